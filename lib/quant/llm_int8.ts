/**
 * bitsandbytes' LLM.int8() (Dettmers et al., 2022), emulated in plain TypeScript for one token's
 * product y = W x, W [out, in]: what Quamba used for Jamba's attention and MoE (transformers'
 * `BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=["mamba"])`, threshold 6.0):
 *
 *  - the weight in int8 per output row: q = round(W · 127 / absmax(row)) (half to even, as
 *    torch.round), dequantized q · absmax(row) / 127;
 *  - the input columns c with |x_c| >= threshold ("outliers") multiply the dequantized weight
 *    columns in floating point (bitsandbytes computes this part in float16 from the int8 weight);
 *  - the other columns in int8 per token: round(x_c · 127 / absmax over them), the int32 dot
 *    product rescaled.
 *
 * One difference from bitsandbytes, stated: it picks outlier columns over all rows of a batch
 * (every token of a prefill), the emulation per token (as in decoding), so on a prefill it keeps
 * fewer columns in float16 than bitsandbytes would.
 */
import { roundHalfEven } from "./int8.ts";

/** bitsandbytes' default `llm_int8_threshold`. */
export const LLM_INT8_THRESHOLD = 6.0;

/** A weight in LLM.int8's form: int8 codes per row and the row scales (absmax / 127). */
export interface RowInt8 {
  rows: number;
  cols: number;
  q: Int8Array;
  scale: Float64Array;
}

/**
 * Quantizes W [rows, cols] per row (absmax / 127, round half to even).
 *
 * @example
 * ```ts
 * const w = rowInt8(Float32Array.from([1, -0.5, 0.25, 2]), 2, 2);
 * // w.q = [127, -64, 16, 127], w.scale = [1 / 127, 2 / 127]
 * ```
 */
export function rowInt8(W: Float32Array, rows: number, cols: number): RowInt8 {
  const q = new Int8Array(rows * cols), scale = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(W[r * cols + c]));
    scale[r] = amax > 0 ? amax / 127 : 1;
    for (let c = 0; c < cols; c++) {
      q[r * cols + c] = Math.max(-127, Math.min(127, roundHalfEven(W[r * cols + c] / scale[r])));
    }
  }
  return { rows, cols, q, scale };
}

/**
 * y = W x under LLM.int8 (`w` from rowInt8): outlier columns of x (|x_c| >= threshold) in
 * floating point against the dequantized weight, the rest int8 per token.
 *
 * @example
 * ```ts
 * const y = llmInt8Linear(rowInt8(W, out, inp), x); // [out]
 * ```
 */
export function llmInt8Linear(
  w: RowInt8,
  x: Float64Array,
  threshold: number = LLM_INT8_THRESHOLD,
): Float64Array {
  const { rows, cols, q, scale } = w;
  const outlier = new Uint8Array(cols);
  let amax = 0;
  for (let c = 0; c < cols; c++) {
    if (Math.abs(x[c]) >= threshold) outlier[c] = 1;
    else amax = Math.max(amax, Math.abs(x[c]));
  }
  const sx = amax > 0 ? amax / 127 : 1;
  const xq = new Int32Array(cols);
  for (let c = 0; c < cols; c++) if (!outlier[c]) xq[c] = roundHalfEven(x[c] / sx);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0, fl = 0;
    const row = r * cols;
    for (let c = 0; c < cols; c++) {
      if (outlier[c]) fl += x[c] * q[row + c];
      else acc += xq[c] * q[row + c];
    }
    y[r] = (acc * sx + fl) * scale[r];
  }
  return y;
}
