/**
 * Read-only file mappings through the C library (POSIX `mmap`), for weights that onnxruntime
 * reads in place: the pages come from the file on demand, and `release()` drops the resident
 * ones (`madvise(MADV_DONTNEED)`: a private, never-written mapping refills from the file if
 * read again, so dropping is always safe). Where the C library cannot be loaded (Windows),
 * `mapFile` returns undefined and callers read the file instead.
 */

const PROT_READ = 1, MAP_PRIVATE = 2, MADV_DONTNEED = 4, O_RDONLY = 0;

function libcName(): string | undefined {
  if (Deno.build.os === "linux") return "libc.so.6";
  if (Deno.build.os === "darwin") return "libSystem.B.dylib";
  return undefined;
}

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
} as const;
const GLIBC = { malloc_trim: { parameters: ["usize"], result: "i32" } } as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;
let glibc: Deno.DynamicLibrary<typeof GLIBC> | null | undefined;

function loadLibc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc !== undefined) return libc;
  const name = libcName();
  try {
    libc = name ? Deno.dlopen(name, SYMBOLS) : null;
  } catch {
    libc = null;
  }
  return libc;
}

/**
 * A read-only private mapping of a whole file.
 *
 * @example
 * ```ts
 * const m = mapFile("weights.bin");
 * if (m) { use(m.ptr, m.byteLength); m.release(); m.close(); }
 * ```
 */
export class FileMapping {
  #ptr: Deno.PointerObject | null;
  constructor(ptr: Deno.PointerObject, readonly byteLength: number, readonly path: string) {
    this.#ptr = ptr;
  }

  /** The first byte (a KitError-free Error once closed: the memory is gone). */
  get ptr(): Deno.PointerObject {
    if (this.#ptr === null) throw new Error(`${this.path}: mapping used after close()`);
    return this.#ptr;
  }

  /** The address `offset` bytes in. */
  at(offset: number): Deno.PointerObject {
    if (offset < 0 || offset > this.byteLength) {
      throw new RangeError(`offset ${offset} outside ${this.path}`);
    }
    return Deno.UnsafePointer.offset(this.ptr, offset)!;
  }

  /** Drops the resident pages (they refill from the file when read again). */
  release(): void {
    if (this.#ptr !== null) {
      loadLibc()!.symbols.madvise(this.#ptr, BigInt(this.byteLength), MADV_DONTNEED);
    }
  }

  /** Unmaps the file; later calls do nothing. */
  close(): void {
    if (this.#ptr === null) return;
    loadLibc()!.symbols.munmap(this.#ptr, BigInt(this.byteLength));
    this.#ptr = null;
  }
}

/**
 * Returns the C heap's free pages to the system (glibc's `malloc_trim`; elsewhere nothing).
 * Large buffers that onnxruntime frees while it loads a session stay in the heap otherwise
 * (glibc raises its mmap threshold after the first free of a large block).
 *
 * @example
 * ```ts
 * trimHeap(); // after onnxruntime freed large buffers
 * ```
 */
export function trimHeap(): void {
  if (glibc === undefined) {
    try {
      glibc = Deno.build.os === "linux" ? Deno.dlopen("libc.so.6", GLIBC) : null;
    } catch {
      glibc = null;
    }
  }
  glibc?.symbols.malloc_trim(0n);
}

/**
 * Maps `path` read-only, or undefined where mappings are not available.
 *
 * @example
 * ```ts
 * const m = mapFile("weights.bin"); // undefined where mmap is not available
 * ```
 */
export function mapFile(path: string): FileMapping | undefined {
  const lib = loadLibc();
  if (!lib) return undefined;
  const size = Deno.statSync(path).size;
  if (size === 0) return undefined;
  const c = new TextEncoder().encode(path + "\0");
  const fd = lib.symbols.open(c, O_RDONLY);
  if (fd < 0) return undefined;
  try {
    const p = lib.symbols.mmap(null, BigInt(size), PROT_READ, MAP_PRIVATE, fd, 0n);
    if (p === null || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) return undefined;
    return new FileMapping(p, size, path);
  } finally {
    lib.symbols.close(fd);
  }
}
