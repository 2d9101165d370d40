/**
 * Static symmetric int8 quantization: scale = amax / 127, q = round_half_even(x / scale)
 * saturated to [-128, 127], x̂ = q · scale. Division is done in float32, as onnxruntime's
 * QuantizeLinear does, so the kit's TypeScript reference rounds exactly like the graphs.
 */

/** The scale of a tensor whose largest magnitude is `amax` (1 for an all-zero tensor). */
export function scaleOf(amax: number): number {
  return amax > 0 ? Math.fround(amax / 127) : 1;
}

/** Round half to even (ONNX QuantizeLinear's rounding). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The int8 code of x at `scale` (float32 division, half to even, saturated). */
export function quantizeValue(x: number, scale: number): number {
  const q = roundHalfEven(Math.fround(Math.fround(x) / Math.fround(scale)));
  return q > 127 ? 127 : q < -128 ? -128 : q;
}

/** Fake quantization of one value: its int8 code times the scale (in float32). */
export function fakeQuant(x: number, scale: number): number {
  return Math.fround(quantizeValue(x, scale) * Math.fround(scale));
}

/** Largest magnitude of a tensor. */
export function absmax(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/**
 * Quantizes a weight tensor per tensor. With `transpose` ([rows, cols] given), the codes are laid
 * out transposed ([cols, rows]), as MatMul's B input wants.
 *
 * @example
 * ```ts
 * const { q, scale } = quantizeTensor(Float32Array.from([0.5, -1, 0.25]));
 * // scale = 1/127, q = [64, -127, 32]
 * ```
 */
export function quantizeTensor(
  x: Float32Array,
  transpose?: { rows: number; cols: number },
): { q: Int8Array; scale: number } {
  return { q: quantizeWith(x, scaleOf(absmax(x)), transpose), scale: scaleOf(absmax(x)) };
}

/** The int8 codes of `x` at a given scale, optionally transposed (see quantizeTensor). */
export function quantizeWith(
  x: Float32Array,
  scale: number,
  transpose?: { rows: number; cols: number },
): Int8Array {
  const q = new Int8Array(x.length);
  if (!transpose) {
    for (let i = 0; i < x.length; i++) q[i] = quantizeValue(x[i], scale);
  } else {
    const { rows, cols } = transpose;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) q[c * rows + r] = quantizeValue(x[r * cols + c], scale);
    }
  }
  return q;
}

/** The dequantized tensor q · scale (same layout as q). */
export function dequantize(q: Int8Array, scale: number): Float32Array {
  const s = Math.fround(scale);
  return Float32Array.from(q, (v) => v * s);
}
