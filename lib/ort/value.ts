/**
 * `OrtValue` tensors: over a JS typed array the caller owns (no copy; the array is kept alive
 * while the value lives), allocated by a session's allocator (device memory, opaque to JS), or
 * returned by a run; their element type and shape, and copies of their data into JS arrays.
 */
import { KitError } from "../errors.ts";
import { ort } from "./api.ts";
import { TENSOR_TYPES, type TensorData, type TensorType, typeOfCode } from "./dtypes.ts";
import { ortEnv } from "./env.ts";
import { addressOf, OutPointer, pointerArray } from "./ffi.ts";
import { NativeHandle } from "./handle.ts";
import {
  type Allocator,
  type Device,
  deviceIdOfMemoryInfo,
  deviceOfMemoryInfo,
  MemoryInfo,
} from "./memory.ts";
import { check, OrtError } from "./status.ts";

let hostMemory: MemoryInfo | undefined;
/** The host memory info shared by every tensor over a JS array (never released). */
function hostInfo(): MemoryInfo {
  return hostMemory ??= MemoryInfo.of("cpu");
}

const EMPTY = new Uint8Array(8);

/** Element type and dimensions of a tensor. */
export interface TypeAndShape {
  type: TensorType;
  dims: number[];
}

const scratch = {
  out: new OutPointer(),
  i32: new Int32Array(1),
  size: new BigUint64Array(1),
};

/**
 * Element type and shape of an `OrtTensorTypeAndShapeInfo*` (not released here); symbolic or
 * unknown dimensions are -1 in `dims` and named in `symbolic`.
 *
 * @example
 * ```ts
 * readTypeAndShape(info, true); // { type: "float32", dims: [-1, 3], symbolic: ["batch", ""] }
 * ```
 */
export function readTypeAndShape(
  info: Deno.PointerObject,
  withSymbols = false,
): TypeAndShape & { symbolic?: string[] } {
  const api = ort();
  check(api.GetTensorElementType(info, scratch.i32), "GetTensorElementType");
  const code = scratch.i32[0];
  check(api.GetDimensionsCount(info, scratch.size), "GetDimensionsCount");
  const rank = Number(scratch.size[0]);
  const dims64 = new BigInt64Array(Math.max(rank, 1));
  check(api.GetDimensions(info, dims64, BigInt(rank)), "GetDimensions");
  const dims = Array.from(dims64.subarray(0, rank), Number);
  const type = typeOfCode(code);
  if (!withSymbols) return { type, dims };
  const names = new BigUint64Array(Math.max(rank, 1));
  check(api.GetSymbolicDimensions(info, names, BigInt(rank)), "GetSymbolicDimensions");
  const symbolic = Array.from(names.subarray(0, rank), (p) => {
    const ptr = Deno.UnsafePointer.create(p);
    return ptr === null ? "" : Deno.UnsafePointerView.getCString(ptr);
  });
  return { type, dims, symbolic };
}

/**
 * A new `OrtValue*` over `data` (no copy), for the caller to release with `ReleaseValue`
 * while `data` is still alive.
 *
 * @example
 * ```ts
 * const v = hostValue("float32", data, [2, 2]);
 * try {
 *   // ... run with it
 * } finally {
 *   ort().ReleaseValue(v);
 * }
 * ```
 */
export function hostValue(
  type: TensorType,
  data: TensorData,
  dims: readonly number[],
): Deno.PointerObject {
  const info = TENSOR_TYPES[type];
  const n = dims.reduce((a, b) => a * b, 1);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new KitError(`tensor dims [${dims}] must be non-negative integers`);
  }
  if (data.length !== n) {
    throw new KitError(`a ${type} tensor of dims [${dims}] needs ${n} values, got ${data.length}`);
  }
  const bytes = n * info.bytes;
  const out = new OutPointer();
  check(
    ort().CreateTensorWithDataAsOrtValue(
      hostInfo().ptr,
      bytes === 0 ? addressOf(EMPTY) : addressOf(data),
      BigInt(bytes),
      BigInt64Array.from(dims, BigInt),
      BigInt(dims.length),
      info.code,
      out.slot(),
    ),
    `CreateTensorWithDataAsOrtValue(${type}[${dims}])`,
  );
  return out.get()!;
}

/**
 * One owned `OrtValue` holding a tensor.
 *
 * @example
 * ```ts
 * const v = OrtValue.fromHost("float32", new Float32Array([1, 2, 3]), [3]);
 * v.typeAndShape(); // { type: "float32", dims: [3] }
 * v.close();
 * ```
 */
/** Devices for which the env has no data transfer to the host (CopyTensors said so). */
const noTransfer = new Set<Device>();

export class OrtValue {
  readonly handle: NativeHandle;

  /**
   * `keep`: parents that must outlive the native value (held until it is released);
   * `memory`: what the tensor's bytes live in when the caller owns them (a JS array, a file
   * mapping), kept by this wrapper so that they live as long as anyone can use the value.
   */
  constructor(
    ptr: Deno.PointerObject,
    kind = "OrtValue",
    keep: unknown[] = [],
    readonly memory?: unknown,
  ) {
    this.handle = new NativeHandle(kind, ptr, (p) => ort().ReleaseValue(p), keep);
  }

  /** A tensor over `data` (no copy: onnxruntime reads and writes the array itself). */
  static fromHost(type: TensorType, data: TensorData, dims: readonly number[]): OrtValue {
    return new OrtValue(hostValue(type, data, dims), `OrtValue(${type}[${dims}])`, [], data);
  }

  /** A tensor over `bytes` bytes of memory at `ptr` that someone else owns (kept in `keep`
   * while the value lives), e.g. a file mapping. */
  static fromPointer(
    ptr: Deno.PointerObject,
    type: TensorType,
    dims: readonly number[],
    keep: unknown[] = [],
  ): OrtValue {
    const info = TENSOR_TYPES[type];
    const bytes = dims.reduce((a, b) => a * b, 1) * info.bytes;
    const out = new OutPointer();
    check(
      ort().CreateTensorWithDataAsOrtValue(
        hostInfo().ptr,
        ptr,
        BigInt(bytes),
        BigInt64Array.from(dims, BigInt),
        BigInt(dims.length),
        info.code,
        out.slot(),
      ),
      `CreateTensorWithDataAsOrtValue(${type}[${dims}])`,
    );
    return new OrtValue(out.get()!, `OrtValue(${type}[${dims}])`, [], keep);
  }

  /** A tensor allocated by `allocator` (e.g. on a session's device); contents undefined. */
  static allocate(allocator: Allocator, type: TensorType, dims: readonly number[]): OrtValue {
    const out = new OutPointer();
    check(
      ort().CreateTensorAsOrtValue(
        allocator.ptr,
        BigInt64Array.from(dims, BigInt),
        BigInt(dims.length),
        TENSOR_TYPES[type].code,
        out.slot(),
      ),
      `CreateTensorAsOrtValue(${type}[${dims}] on ${allocator.memory.device})`,
    );
    return new OrtValue(out.get()!, `OrtValue(${type}[${dims}] on ${allocator.memory.device})`, [
      allocator,
    ]);
  }

  get ptr(): Deno.PointerObject {
    return this.handle.ptr;
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  /** Element type and dimensions. */
  typeAndShape(): TypeAndShape {
    const api = ort();
    check(api.GetTensorTypeAndShape(this.ptr, scratch.out.slot()), "GetTensorTypeAndShape");
    const info = scratch.out.get()!;
    try {
      return readTypeAndShape(info);
    } finally {
      api.ReleaseTensorTypeAndShapeInfo(info);
    }
  }

  /** The memory the tensor lives in ("cpu" for the host). */
  device(): Device {
    check(ort().GetTensorMemoryInfo(this.ptr, scratch.out.slot()), "GetTensorMemoryInfo");
    return deviceOfMemoryInfo(scratch.out.get()!);
  }

  /** The ordinal of the device the tensor lives on. */
  deviceId(): number {
    check(ort().GetTensorMemoryInfo(this.ptr, scratch.out.slot()), "GetTensorMemoryInfo");
    return deviceIdOfMemoryInfo(scratch.out.get()!);
  }

  /**
   * A host copy of the data, on any device: `CopyTensors`, or — where the provider registered
   * no data transfer with the env (CUDA's, as a separate library) — an Identity session on the
   * tensor's device whose output is bound to host memory (lib/ort/copy_session.ts).
   */
  async copyToHostAsync(): Promise<TensorData> {
    const device = this.device();
    if (!noTransfer.has(device)) {
      try {
        return this.copyToHost().data;
      } catch (e) {
        if (!(e instanceof OrtError) || e.codeName !== "ORT_NOT_IMPLEMENTED") throw e;
        noTransfer.add(device); // (the env's data transfers do not change)
      }
    }
    const { type, dims } = this.typeAndShape();
    const { copyThroughSession } = await import("./copy_session.ts");
    return await copyThroughSession(this, type, dims, device, this.deviceId());
  }

  /** A copy of a host tensor's data in a new typed array. */
  toHost(shape: TypeAndShape = this.typeAndShape()): TensorData {
    const info = TENSOR_TYPES[shape.type];
    const n = shape.dims.reduce((a, b) => a * b, 1);
    const out = new info.array(n);
    if (n === 0) return out;
    check(ort().GetTensorMutableData(this.ptr, scratch.out.slot()), "GetTensorMutableData");
    const p = scratch.out.get();
    if (p === null) throw new KitError("GetTensorMutableData returned NULL for a non-empty tensor");
    Deno.UnsafePointerView.copyInto(p, new Uint8Array(out.buffer, out.byteOffset, n * info.bytes));
    return out;
  }

  /**
   * A host copy of a tensor on any device, through onnxruntime's data transfer
   * (`CopyTensors`; on a device tensor it needs the device's EP registered with the env).
   */
  copyToHost(): { data: TensorData } & TypeAndShape {
    const shape = this.typeAndShape();
    if (this.device() === "cpu") return { ...shape, data: this.toHost(shape) };
    const data = new TENSOR_TYPES[shape.type].array(shape.dims.reduce((a, b) => a * b, 1));
    const dst = OrtValue.fromHost(shape.type, data, shape.dims);
    try {
      check(
        ort().CopyTensors(ortEnv(), pointerArray([this.ptr]), pointerArray([dst.ptr]), null, 1n),
        `CopyTensors(${this.handle.kind} to the host)`,
      );
    } finally {
      dst.close();
    }
    return { ...shape, data };
  }

  close(): void {
    this.handle.close();
  }
}
