/**
 * Turning an `OrtValue*` that onnxruntime returned (a run's output) into a kit Tensor: host
 * data is copied into a new JS typed array and the value released at once; a value in device
 * memory is kept, owned by the tensor.
 */
import { ort } from "./api.ts";
import { TENSOR_TYPES } from "./dtypes.ts";
import { OutPointer } from "./ffi.ts";
import { deviceOfMemoryInfo } from "./memory.ts";
import { check } from "./status.ts";
import { Tensor } from "./tensor.ts";
import { OrtValue, readTypeAndShape } from "./value.ts";

const out = new OutPointer();

/**
 * The tensor of an owned output value (`mayBeOnDevice`: look where its memory is; false for
 * CPU-only sessions, whose outputs are all on the host).
 *
 * @example
 * ```ts
 * const t = outputTensor(ptr, false); // a host copy; ptr is released
 * ```
 */
export function outputTensor(ptr: Deno.PointerValue, mayBeOnDevice: boolean): Tensor {
  if (ptr === null) throw new Error("onnxruntime returned no value for an output");
  const api = ort();
  let owned = true;
  try {
    check(api.GetTensorTypeAndShape(ptr, out.slot()), "GetTensorTypeAndShape");
    const info = out.get()!;
    let shape;
    try {
      shape = readTypeAndShape(info);
    } finally {
      api.ReleaseTensorTypeAndShapeInfo(info);
    }
    if (mayBeOnDevice) {
      check(api.GetTensorMemoryInfo(ptr, out.slot()), "GetTensorMemoryInfo");
      const device = deviceOfMemoryInfo(out.get()!);
      if (device !== "cpu") {
        owned = false;
        const v = new OrtValue(ptr, `OrtValue(${shape.type}[${shape.dims}] on ${device})`);
        return Tensor.onDevice(v, shape.type, shape.dims, device);
      }
    }
    const n = shape.dims.reduce((a, b) => a * b, 1);
    const t = TENSOR_TYPES[shape.type];
    const data = new t.array(n);
    if (n > 0) {
      check(api.GetTensorMutableData(ptr, out.slot()), "GetTensorMutableData");
      const p = out.get()!;
      Deno.UnsafePointerView.copyInto(p, new Uint8Array(data.buffer, 0, n * t.bytes));
    }
    return new Tensor(shape.type, data, shape.dims);
  } finally {
    if (owned) api.ReleaseValue(ptr);
  }
}

/**
 * The tensors of a run's output values (`ptrs[i]` for `names[i]`), all released or owned by a
 * tensor even when one fails to convert.
 *
 * @example
 * ```ts
 * const out = outputsOf(["logits"], outValues, false); // out.logits: a Tensor
 * ```
 */
export function outputsOf(
  names: readonly string[],
  ptrs: BigUint64Array,
  mayBeOnDevice: boolean,
): Record<string, Tensor> {
  const result: Record<string, Tensor> = {};
  let failed: unknown;
  names.forEach((name, j) => {
    const p = Deno.UnsafePointer.create(ptrs[j]);
    if (failed !== undefined) {
      if (p) ort().ReleaseValue(p);
      return;
    }
    try {
      result[name] = outputTensor(p, mayBeOnDevice);
    } catch (e) {
      failed = e;
    }
  });
  if (failed !== undefined) {
    for (const t of Object.values(result)) t.dispose();
    throw failed;
  }
  return result;
}
