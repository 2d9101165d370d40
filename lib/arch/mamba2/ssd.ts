/**
 * SSD's chunked form (Dao & Gu 2024, "ssd_minimal" of mamba_ssm) as ONNX MatMuls, the Mamba-2
 * prefill's `scan: "parallel"`: the sequence is cut into chunks of Q tokens; within a chunk the
 * recurrence is a masked matrix product (attention-like, Q × Q per head), across chunks one
 * state per chunk is carried by a short Scan over the l / Q chunks.
 *
 * With a_t = dt_t A (per head) and its inclusive cumulative sum s_t within a chunk:
 *   y_t = Σ_{τ≤t in chunk} exp(s_t - s_τ) (C_t · B_τ) dt_τ x_τ  +  exp(s_t) C_t · H_in
 *   H_out = exp(s_{Q-1}) H_in + Σ_τ exp(s_{Q-1} - s_τ) dt_τ x_τ ⊗ B_τ
 * Padding to a whole number of chunks uses dt = 0 (no decay, no update), so the state after the
 * padded tail is the state after the last real token.
 *
 * Dimensions: b batch, l tokens, L = l rounded up to Q, c = L / Q chunks, h heads, p head_dim,
 * n state (lib/arch/mamba2/config.ts).
 */
import { Graph } from "../../onnx/builder.ts";
import type { GraphBuilder } from "../../onnx/layers.ts";

/** exp(x) of masked entries: exp(-1e30) is 0 in float32, and no Inf reaches a product. */
const MASKED = -1e30;

/**
 * The chunked scan from the past state: dt [b, l, h], x [b, l, h, p], B, C [b, l, hB, n] (hB = h,
 * or 1 for B and C shared by every head), A [h], pastSsm [b, h, p, n] -> [state after the last
 * token [b, h, p, n], y [b, l, h, p]] (C·h, no D x).
 */
export function chunkedScan(
  B: GraphBuilder,
  v: { pastSsm: string; dt: string; x: string; B: string; C: string; A: string },
  dims: { h: number; p: number; n: number; hB: number; Q: number; layer: number },
): [string, string] {
  const g = B.g, { h, p, n, hB, Q } = dims;
  const i64 = (a: number[]) => g.const("int64", a);
  // pad l up to L = c Q with zeros
  const len = g.op("Slice", [g.op("Shape", [v.dt]), i64([1]), i64([2])]); // [1] = l
  const padLen = g.op("Mod", [g.op("Sub", [i64([Q]), g.op("Mod", [len, i64([Q])])]), i64([Q])]);
  const pad = (x: string, rank: number) =>
    g.op("Pad", [
      x,
      g.op("Concat", [i64(Array(rank + 1).fill(0)), padLen, i64(Array(rank - 2).fill(0))], {
        axis: 0,
      }),
    ]);
  const chunks = (x: string, tail: number[], perm: number[]) =>
    g.op("Transpose", [g.op("Reshape", [x, i64([0, -1, Q, ...tail])])], { perm });
  const dt = chunks(pad(v.dt, 3), [h], [0, 1, 3, 2]); // [b, c, h, Q]
  const x = chunks(pad(v.x, 4), [h, p], [0, 1, 3, 2, 4]); // [b, c, h, Q, p]
  const Bc = chunks(pad(v.B, 4), [hB, n], [0, 1, 3, 2, 4]); // [b, c, hB, Q, n]
  const Cc = chunks(pad(v.C, 4), [hB, n], [0, 1, 3, 2, 4]); // [b, c, hB, Q, n]
  const s = g.op("CumSum", [
    g.op("Mul", [dt, g.op("Unsqueeze", [v.A, i64([1])])]),
    g.scalar("int64", 3),
  ]); // [b, c, h, Q]
  const sLast = g.op("Slice", [s, i64([Q - 1]), i64([Q]), i64([3])]); // [b, c, h, 1]
  // within chunks: M[t, τ] = exp(s_t - s_τ) (C_t · B_τ) dt_τ for τ ≤ t
  const mask = new Float32Array(Q * Q);
  for (let t = 0; t < Q; t++) for (let u = t + 1; u < Q; u++) mask[t * Q + u] = MASKED;
  const seg = g.op("Add", [
    g.op("Sub", [g.op("Unsqueeze", [s, i64([4])]), g.op("Unsqueeze", [s, i64([3])])]),
    g.const("float32", mask, [Q, Q]),
  ]); // [b, c, h, Q, Q]
  const CB = g.op("MatMul", [Cc, g.op("Transpose", [Bc], { perm: [0, 1, 2, 4, 3] })]);
  const M = g.op("Mul", [g.op("Mul", [CB, g.op("Exp", [seg])]), g.op("Unsqueeze", [dt, i64([3])])]);
  const yIn = g.op("MatMul", [M, x]); // [b, c, h, Q, p]
  // each chunk's own contribution to the state at its end: Σ_τ exp(s_last - s_τ) dt_τ x_τ ⊗ B_τ
  const wgt = g.op("Mul", [g.op("Exp", [g.op("Sub", [sLast, s])]), dt]); // [b, c, h, Q]
  const xw = g.op("Mul", [x, g.op("Unsqueeze", [wgt, i64([4])])]);
  const own = g.op("MatMul", [g.op("Transpose", [xw], { perm: [0, 1, 2, 4, 3] }), Bc]); // [b, c, h, p, n]
  // across chunks: H_out = exp(s_last) H_in + own, a Scan over c; it emits each H_in
  const decay = g.op("Exp", [g.op("Squeeze", [sLast, i64([3])])]); // [b, c, h]
  const [last, hIn] = g.opN("Scan", [v.pastSsm, decay, own], {
    body: chunkBody(dims.layer),
    num_scan_inputs: 2,
    scan_input_axes: [1, 1],
    scan_output_axes: [1],
  }, { outputs: 2 }); // [b, h, p, n], [b, c, h, p, n]
  const yOut = g.op("Mul", [
    g.op("MatMul", [Cc, g.op("Transpose", [hIn], { perm: [0, 1, 2, 4, 3] })]), // [b, c, h, Q, p]
    g.op("Unsqueeze", [g.op("Exp", [s]), i64([4])]),
  ]);
  const y = g.op("Reshape", [
    g.op("Transpose", [g.op("Add", [yIn, yOut])], { perm: [0, 1, 3, 2, 4] }), // [b, c, Q, h, p]
    i64([0, -1, h, p]),
  ]); // [b, L, h, p]
  return [last, g.op("Slice", [y, i64([0]), len, i64([1])])];
}

/** H_out = decay ⊙ H_in + own; emits H_in. H [b, h, p, n], decay [b, h], own [b, h, p, n]. */
function chunkBody(layer: number): Graph {
  const s = new Graph("ssd_chunk", `ssdc${layer}_`);
  const state = s.input("h_in", "float32");
  const decay = s.input("decay_c", "float32"), own = s.input("own_c", "float32");
  const d4 = s.op("Unsqueeze", [decay, s.const("int64", [2, 3])]);
  s.output(s.op("Add", [s.op("Mul", [d4, state]), own]), "float32", undefined, "h_out");
  s.output(state, "float32", undefined, "h_prev");
  return s;
}
