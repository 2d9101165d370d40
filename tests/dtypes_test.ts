import assert from "node:assert/strict";
import { bf16ArrayToF32, f16ToF32, f32ArrayToF16, f32ToF16 } from "../lib/dtypes.ts";

Deno.test("f16: exact values and special cases", () => {
  assert.equal(f32ToF16(1), 0x3c00);
  assert.equal(f32ToF16(-2), 0xc000);
  assert.equal(f32ToF16(65504), 0x7bff);
  assert.equal(f32ToF16(65520), 0x7c00); // rounds up to infinity
  assert.equal(f32ToF16(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(f32ToF16(2 ** -26), 0x0000); // below half of it: zero
  assert.equal(f32ToF16(Infinity), 0x7c00);
  assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
  assert.equal(f16ToF32(0x3555), 0.333251953125);
});

Deno.test("f16: round trip of every half value, and round-to-nearest-even", () => {
  for (let h = 0; h < 65536; h++) {
    const x = f16ToF32(h);
    if (Number.isNaN(x)) continue;
    assert.equal(f32ToF16(x), h, `half 0x${h.toString(16)}`);
  }
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1)
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00);
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02);
  const xs = Float32Array.from([0.1, -7.25, 1e-6, 3e4]);
  const back = Array.from(f32ArrayToF16(xs), f16ToF32);
  xs.forEach((x, i) => assert.ok(Math.abs(back[i] - x) <= Math.abs(x) * 2 ** -11 + 2 ** -25));
});

Deno.test("bf16: the top half of float32", () => {
  const got = bf16ArrayToF32(Uint16Array.from([0x3f80, 0xc040, 0x0000, 0x7f80]));
  assert.deepEqual(Array.from(got), [1, -3, 0, Infinity]);
});
