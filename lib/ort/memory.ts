/**
 * Where tensor memory lives (`OrtMemoryInfo`: the host, a CUDA device, WebGPU buffers) and the
 * allocators that hand it out: onnxruntime's default host allocator, and a session's allocator
 * for a memory info (device memory of the session's execution provider).
 */
import { KitError } from "../errors.ts";
import { ort } from "./api.ts";
import { cString, OutPointer, readCString } from "./ffi.ts";
import { NativeHandle } from "./handle.ts";
import { check } from "./status.ts";

/** Memory a tensor can live in. */
export type Device = "cpu" | "cuda" | "webgpu";

/** onnxruntime's allocator names (`OrtMemoryInfo` names) by device. */
export const MEMORY_NAMES: Record<Device, string> = {
  cpu: "Cpu",
  cuda: "Cuda",
  webgpu: "WebGPU_Buffer",
};

/** `OrtAllocatorType` and `OrtMemType` values. */
const DEVICE_ALLOCATOR = 0, ARENA_ALLOCATOR = 1, MEM_TYPE_DEFAULT = 0;

/**
 * An `OrtMemoryInfo`.
 *
 * @example
 * ```ts
 * const cuda = MemoryInfo.of("cuda", 0); // device 0's memory
 * cuda.name; // "Cuda"
 * cuda.close();
 * ```
 */
export class MemoryInfo {
  readonly handle: NativeHandle;

  private constructor(ptr: Deno.PointerObject, readonly device: Device, readonly deviceId: number) {
    this.handle = new NativeHandle(
      `OrtMemoryInfo(${device}:${deviceId})`,
      ptr,
      (p) => ort().ReleaseMemoryInfo(p),
    );
  }

  /** Memory of `device` (its default memory type; the host for "cpu"). */
  static of(device: Device, deviceId = 0): MemoryInfo {
    const out = new OutPointer();
    if (device === "cpu") {
      check(
        ort().CreateCpuMemoryInfo(DEVICE_ALLOCATOR, MEM_TYPE_DEFAULT, out.slot()),
        "CreateCpuMemoryInfo",
      );
    } else {
      const name = MEMORY_NAMES[device];
      if (!name) throw new KitError(`unknown device '${device}' (expected cpu, cuda or webgpu)`);
      const kind = device === "cuda" ? ARENA_ALLOCATOR : DEVICE_ALLOCATOR;
      check(
        ort().CreateMemoryInfo(cString(name), kind, deviceId, MEM_TYPE_DEFAULT, out.slot()),
        `CreateMemoryInfo(${name}, device ${deviceId})`,
      );
    }
    return new MemoryInfo(out.get()!, device, deviceId);
  }

  /** Memory described by onnxruntime's allocator `name` (e.g. "Cuda"), for tests of names. */
  static named(name: string, deviceId = 0): MemoryInfo {
    const out = new OutPointer();
    check(
      ort().CreateMemoryInfo(
        cString(name),
        DEVICE_ALLOCATOR,
        deviceId,
        MEM_TYPE_DEFAULT,
        out.slot(),
      ),
      `CreateMemoryInfo(${name}, device ${deviceId})`,
    );
    const device =
      (Object.entries(MEMORY_NAMES).find(([, n]) => n === name)?.[0] ?? "cpu") as Device;
    return new MemoryInfo(out.get()!, device, deviceId);
  }

  get ptr(): Deno.PointerObject {
    return this.handle.ptr;
  }

  /** onnxruntime's name of this memory (e.g. "Cpu", "Cuda", "WebGPU_Buf"). */
  get name(): string {
    return memoryInfoName(this.ptr);
  }

  close(): void {
    this.handle.close();
  }
}

/**
 * The allocator name of an `OrtMemoryInfo*` (owned by someone else).
 *
 * @example
 * ```ts
 * memoryInfoName(MemoryInfo.of("cuda").ptr); // "Cuda"
 * ```
 */
export function memoryInfoName(info: Deno.PointerObject): string {
  const out = new OutPointer();
  check(ort().MemoryInfoGetName(info, out.slot()), "MemoryInfoGetName");
  return readCString(out.get());
}

/**
 * The device of an `OrtMemoryInfo*` from its allocator name ("cpu" for host memory, CUDA's
 * pinned host memory included). onnxruntime reports WebGPU buffers as "WebGPU_Buf", whichever
 * of that and "WebGPU_Buffer" the info was made with.
 *
 * @example
 * ```ts
 * deviceOfMemoryInfo(MemoryInfo.of("webgpu").ptr); // "webgpu"
 * ```
 */
export function deviceOfMemoryInfo(info: Deno.PointerObject): Device {
  const name = memoryInfoName(info);
  if (name === MEMORY_NAMES.cuda) return "cuda";
  if (name.startsWith("WebGPU_Buf")) return "webgpu";
  return "cpu";
}

/** The device ordinal of an `OrtMemoryInfo*` (`MemoryInfoGetId`). */
export function deviceIdOfMemoryInfo(info: Deno.PointerObject): number {
  const id = new Int32Array(1);
  check(ort().MemoryInfoGetId(info, id), "MemoryInfoGetId");
  return id[0];
}

let defaultAllocator: Deno.PointerObject | undefined;

/**
 * onnxruntime's default host allocator (not to be released).
 *
 * @example
 * ```ts
 * ort().AllocatorFree(hostAllocator(), p);
 * ```
 */
export function hostAllocator(): Deno.PointerObject {
  if (!defaultAllocator) {
    const out = new OutPointer();
    check(ort().GetAllocatorWithDefaultOptions(out.slot()), "GetAllocatorWithDefaultOptions");
    defaultAllocator = out.get()!;
  }
  return defaultAllocator;
}

/**
 * Frees memory onnxruntime returned through the default host allocator (names, paths).
 *
 * @example
 * ```ts
 * const name = freeHostString(out.get()); // a name onnxruntime allocated, now freed
 * ```
 */
export function freeHostString(p: Deno.PointerValue): string {
  const s = readCString(p);
  if (p !== null) check(ort().AllocatorFree(hostAllocator(), p), "AllocatorFree");
  return s;
}

/**
 * A session's allocator of one memory (`CreateAllocator`): allocates tensors on the
 * session's device; valid while the session is open.
 *
 * @example
 * ```ts
 * const alloc = session.allocator("cuda");
 * const v = OrtValue.allocate(alloc, "float32", [1, 768]);
 * ```
 */
export class Allocator {
  readonly handle: NativeHandle;
  constructor(ptr: Deno.PointerObject, readonly memory: MemoryInfo, owner: unknown) {
    this.handle = new NativeHandle(
      `OrtAllocator(${memory.device}:${memory.deviceId})`,
      ptr,
      (p) => ort().ReleaseAllocator(p),
      [owner, memory],
    );
  }
  get ptr(): Deno.PointerObject {
    return this.handle.ptr;
  }
  close(): void {
    this.handle.close();
  }
}
