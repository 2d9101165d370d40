/**
 * Tensor element types: the kit's names, onnxruntime's `ONNXTensorElementDataType` codes, sizes,
 * and the JS typed array that holds each (float16 as raw bits in a Uint16Array, bool as bytes).
 */
import { KitError } from "../errors.ts";

/** Element types a kit tensor can hold. */
export type TensorType =
  | "float32"
  | "float16"
  | "float64"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "bool";

/** The typed array of each element type. */
export interface TensorDataMap {
  float32: Float32Array;
  float16: Uint16Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
}

/** Any typed array a tensor may hold. */
export type TensorData = TensorDataMap[TensorType];

interface TypeInfo {
  code: number;
  bytes: number;
  // deno-lint-ignore no-explicit-any
  array: { new (n: number): TensorData; new (buf: ArrayBuffer, off: number, n: number): any };
}

/** Code, element size and array constructor by type. */
export const TENSOR_TYPES: Record<TensorType, TypeInfo> = {
  float32: { code: 1, bytes: 4, array: Float32Array },
  uint8: { code: 2, bytes: 1, array: Uint8Array },
  int8: { code: 3, bytes: 1, array: Int8Array },
  uint16: { code: 4, bytes: 2, array: Uint16Array },
  int16: { code: 5, bytes: 2, array: Int16Array },
  int32: { code: 6, bytes: 4, array: Int32Array },
  int64: { code: 7, bytes: 8, array: BigInt64Array },
  bool: { code: 9, bytes: 1, array: Uint8Array },
  float16: { code: 10, bytes: 2, array: Uint16Array },
  float64: { code: 11, bytes: 8, array: Float64Array },
  uint32: { code: 12, bytes: 4, array: Uint32Array },
  uint64: { code: 13, bytes: 8, array: BigUint64Array },
};

const BY_CODE = new Map(
  Object.entries(TENSOR_TYPES).map(([name, t]) => [t.code, name as TensorType]),
);

/**
 * The kit's name of an `ONNXTensorElementDataType` code.
 *
 * @example
 * ```ts
 * typeOfCode(1); // "float32"
 * ```
 */
export function typeOfCode(code: number): TensorType {
  const t = BY_CODE.get(code);
  if (!t) {
    throw new KitError(`tensor element type ${code} (ONNXTensorElementDataType) is not supported`);
  }
  return t;
}

/**
 * Checks that `data` is the typed array `type` needs (a Float16Array passes for float16).
 *
 * @example
 * ```ts
 * checkData("int64", BigInt64Array.of(1n)); // fine; a Float32Array would throw
 * ```
 */
export function checkData(type: TensorType, data: ArrayBufferView): void {
  const info = TENSOR_TYPES[type];
  if (!info) throw new KitError(`unknown tensor type '${type}'`);
  const ok = data instanceof info.array ||
    (type === "float16" && data.constructor.name === "Float16Array") ||
    (type === "bool" && (data instanceof Uint8Array || data instanceof Int8Array));
  if (!ok) {
    throw new KitError(
      `a ${type} tensor needs a ${info.array.name}, got a ${data.constructor.name}`,
    );
  }
}
