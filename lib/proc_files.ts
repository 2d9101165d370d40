/**
 * /proc files read and written through the C library (FFI): Deno lets a program touch /proc only
 * with every permission (`--allow-all`), which the kit's tasks do not ask for, while they already
 * load onnxruntime's native library with `--allow-ffi`. Used for the benchmark's environment
 * (CPU flags, load, memory), whether a process is alive, and the process's peak memory. Linux
 * only: elsewhere each function answers "unknown".
 */

const LIBC = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let libc: Deno.DynamicLibrary<typeof LIBC> | null | undefined;

function lib(): Deno.DynamicLibrary<typeof LIBC> | null {
  if (libc === undefined) {
    try {
      libc = Deno.build.os === "linux" ? Deno.dlopen("libc.so.6", LIBC) : null;
    } catch {
      libc = null; // no --allow-ffi, or another C library
    }
  }
  return libc;
}

const O_RDONLY = 0, O_WRONLY = 1, ESRCH = 3;

function cPath(path: string): Uint8Array {
  return new TextEncoder().encode(path + "\0");
}

/**
 * The text of a /proc file (or any file), or undefined if it cannot be read.
 *
 * @example
 * ```ts
 * readProcFile("/proc/loadavg"); // "0.52 0.58 0.59 1/312 4242\n"
 * ```
 */
export function readProcFile(path: string): string | undefined {
  const c = lib();
  if (!c) return undefined;
  const fd = c.symbols.open(cPath(path), O_RDONLY);
  if (fd < 0) return undefined;
  try {
    const chunks: Uint8Array[] = [];
    for (;;) {
      const buf = new Uint8Array(65536);
      const n = Number(c.symbols.read(fd, buf, BigInt(buf.length)));
      if (n < 0) return undefined;
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
    const all = new Uint8Array(chunks.reduce((a, b) => a + b.length, 0));
    let at = 0;
    for (const ch of chunks) {
      all.set(ch, at);
      at += ch.length;
    }
    return new TextDecoder().decode(all);
  } finally {
    c.symbols.close(fd);
  }
}

/** Writes `text` to a /proc file (e.g. clear_refs); false if it cannot. */
export function writeProcFile(path: string, text: string): boolean {
  const c = lib();
  if (!c) return false;
  const fd = c.symbols.open(cPath(path), O_WRONLY);
  if (fd < 0) return false;
  try {
    const data = new TextEncoder().encode(text);
    return Number(c.symbols.write(fd, data, BigInt(data.length))) === data.length;
  } finally {
    c.symbols.close(fd);
  }
}

/**
 * Whether process `pid` of this machine is alive: `kill(pid, 0)`. Anything unknown counts as
 * alive, so that nothing is removed on a guess.
 *
 * @example
 * ```ts
 * processAlive(Deno.pid); // true
 * ```
 */
export function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  const c = lib();
  if (!c || !Number.isSafeInteger(pid) || pid <= 0) return true;
  if (c.symbols.kill(pid, 0) === 0) return true;
  const errno = c.symbols.__errno_location();
  return errno === null || new Deno.UnsafePointerView(errno).getInt32() !== ESRCH;
}
