/**
 * Every element type through an Identity graph and back: the typed array the kit holds each
 * in (float16 as its bits in a Uint16Array, bool as bytes), dims kept, values bit-exact.
 */
import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import {
  Session,
  Tensor,
  TENSOR_TYPES,
  type TensorDataMap,
  type TensorType,
} from "../lib/ort/mod.ts";
import { f32ToF16 } from "../lib/dtypes.ts";

const onnx = onnxProto.onnx;

/** y = Identity(x) over [batch, 3] of element type `code`, as model bytes. */
function identityModel(code: number): Uint8Array {
  const vi = (name: string) => ({
    name,
    type: {
      tensorType: {
        elemType: code,
        shape: { dim: [{ dimParam: "batch" }, { dimValue: 3 }] },
      },
    },
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 10,
    opsetImport: [{ domain: "", version: 19 }],
    graph: {
      name: "identity",
      node: [{ opType: "Identity", input: ["x"], output: ["y"] }],
      input: [vi("x")],
      output: [vi("y")],
    },
  })).finish();
}

const SAMPLES: { [T in TensorType]: TensorDataMap[T] } = {
  float32: Float32Array.of(1.5, -2.25, 3e-8, Infinity, -0, 7),
  float16: Uint16Array.from([1, -2, 0.5, 65504, -0.125, 3], f32ToF16),
  float64: Float64Array.of(Math.PI, -1e300, 5e-324, 0, 1, -1),
  int8: Int8Array.of(-128, 127, 0, 1, -1, 42),
  uint8: Uint8Array.of(0, 255, 1, 128, 7, 9),
  int16: Int16Array.of(-32768, 32767, 0, 1, -1, 300),
  uint16: Uint16Array.of(0, 65535, 1, 2, 3, 4),
  int32: Int32Array.of(-(2 ** 31), 2 ** 31 - 1, 0, 1, -1, 123456),
  uint32: Uint32Array.of(0, 2 ** 32 - 1, 1, 2, 3, 4),
  int64: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 0n, 1n, -1n, 2n ** 40n),
  uint64: BigUint64Array.of(0n, 2n ** 64n - 1n, 1n, 2n, 3n, 2n ** 50n),
  bool: Uint8Array.of(1, 0, 1, 1, 0, 0),
};

for (const [type, data] of Object.entries(SAMPLES) as [TensorType, TensorDataMap[TensorType]][]) {
  Deno.test(`ort dtypes: ${type} round-trips through a session`, async () => {
    const s = await Session.create(identityModel(TENSOR_TYPES[type].code), { label: type });
    assert.deepEqual(s.inputs[0], { name: "x", type, dims: ["batch", 3] });
    const out = await s.run({ x: new Tensor(type, data, [2, 3]) });
    assert.equal(out.y.type, type);
    assert.deepEqual(out.y.dims, [2, 3]);
    assert.equal(out.y.data.constructor, data.constructor);
    assert.deepEqual(out.y.data, data);
    assert.notEqual(out.y.data.buffer, data.buffer, "outputs are copies");
    await s.release();
  });
}

Deno.test("ort dtypes: an empty tensor runs and comes back empty", async () => {
  const s = await Session.create(identityModel(TENSOR_TYPES.float32.code));
  const out = await s.run({ x: new Tensor("float32", new Float32Array(0), [0, 3]) });
  assert.deepEqual(out.y.dims, [0, 3]);
  assert.equal(out.y.data.length, 0);
  await s.release();
});
