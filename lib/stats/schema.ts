import type { BlockActName } from "../onnx/hooks.ts";

/**
 * The activation statistics tables (Arrow IPC files in the output folder of `deno task stats`).
 *
 * `scalars.arrow`: one row per (layer, tensor, statistic)
 *   layer int32 | tensor utf8 | statistic utf8 | value float64
 *   statistics: absmax, p99, p99.9, p99.99, p99.999 (per-tensor percentiles of |x| over all
 *   samples, from a sketch with relative error <= 2^-8), ema_p99.999 (Quamba: the percentile of
 *   |x| per calibration sample, then an EMA with weight 0.01 across samples; one row per
 *   configured percentile), mean, std, kurtosis (Pearson's: 3 for a normal distribution), count
 *
 * `channels.arrow`: one row per (layer, tensor, channel)
 *   layer int32 | tensor utf8 | channel int32 | absmax float64
 *
 * `histograms.arrow`: one row per (layer, tensor, bin) with a nonzero count
 *   layer int32 | tensor utf8 | lo float64 | hi float64 | count float64
 *   bins of |x| on log-linear edges: each octave [2^e, 2^(e+1)) split in 4 equal bins (edges
 *   2^e · {1, 1.25, 1.5, 1.75, 2}), so bins are log-spaced across octaves; exact zeros get lo = hi = 0
 *
 * Schema metadata on every table: model, method, samples, max_len, tokens, source, kit_version,
 * created (ISO time), percentile_ema_weight.
 *
 * Tensors (per layer, names as in the Mamba block; channels = the last axis):
 */

export const TENSORS = {
  "in_proj.input": "the block input after RMSNorm (in_proj input) [d]",
  x: "in_proj output, first half (conv1d input) [e]",
  z: "in_proj output, second half (the gate) [e]",
  u: "conv1d + SiLU output: the SSM input (x_proj input) [e]",
  dt_low: "x_proj output, time-step part (dt_proj input) [r]",
  B: "x_proj output, input matrix B [n]",
  C: "x_proj output, output matrix C [n]",
  dt: "dt_proj output before the bias and softplus [e]",
  y_ssm: "SSM output before the gate: scan output + D * u [e]",
  y: "SSM output after the gate y * SiLU(z): the out_proj input [e]",
  y_had: "the out_proj input after the orthonormal Hadamard rotation (what Quamba quantizes) [e]",
} as const;

export type TensorName = keyof typeof TENSORS;
export const TENSOR_NAMES = Object.keys(TENSORS) as TensorName[];

/**
 * Hybrid models' (Jamba's) other tensors, in the layers that have them (attention layers have no
 * Mamba tensors; every layer has a feed-forward block):
 */
export const BLOCK_TENSORS = {
  "attn.input": "attention layers: the block input after RMSNorm (q/k/v_proj input) [d]",
  "o_proj.input": "attention layers: the heads' output (o_proj input) [H hd]",
  "ffn.input": "the feed-forward input after RMSNorm (router, gate_proj and up_proj input) [d]",
  "down_proj.input": "dense MLP layers: silu(gate) · up (down_proj input) [f]",
  "experts.{j}.down_proj.input":
    "mixture-of-experts layers: expert j's silu(gate) · up, zero for tokens not routed to it [f]",
} as const;

/**
 * Mamba-2's mixers record in_proj.input, z, u, B, C, dt, y_ssm, y and y_had with Mamba-2's
 * meanings (u, B, C: the conv output's x [e], B and C [g n]; dt: in_proj's dt part before dt_bias
 * [h]; y: the gated norm's output [e]), no x or dt_low, and:
 */
export const MAMBA2_TENSORS = {
  xBC: "in_proj's x ‖ B ‖ C before the conv [e + 2 g n]",
} as const;

/** A tensor of the statistics tables: a Mamba mixer's or a hybrid block's. */
export type StatTensor = TensorName | BlockActName | keyof typeof MAMBA2_TENSORS;

/**
 * Display order of every tensor name present in `names`: the Mamba tensors (Mamba-2's xBC where
 * Mamba-1's x is), then the blocks' (experts by index), then anything else.
 *
 * @example
 * ```ts
 * orderTensors(["ffn.input", "u", "experts.1.down_proj.input"]); // ["u", "ffn.input", "experts.1..."]
 * ```
 */
export function orderTensors(names: Iterable<string>): string[] {
  const rank = (t: string) => {
    // Mamba-2's xBC goes where Mamba-1's x is: in_proj's output before the conv
    const i = (TENSOR_NAMES as string[]).indexOf(t === "xBC" ? "x" : t);
    if (i >= 0) return [i, t === "xBC" ? 1 : 0];
    const j = Object.keys(BLOCK_TENSORS).indexOf(t);
    if (j >= 0) return [TENSOR_NAMES.length + j, 0];
    const e = /^experts\.(\d+)\.down_proj\.input$/.exec(t);
    if (e) return [TENSOR_NAMES.length + 4, Number(e[1])];
    return [Infinity, 0];
  };
  return [...new Set(names)].sort((a, b) => {
    const [ra, sa] = rank(a), [rb, sb] = rank(b);
    return ra - rb || sa - sb || (a < b ? -1 : a > b ? 1 : 0);
  });
}

/** Percentiles of |x| reported per tensor over all samples. */
export const PERCENTILES = [99, 99.9, 99.99, 99.999] as const;

/** Statistic name of a percentile: 99.999 → "p99.999". */
export function percentileName(p: number): string {
  return `p${p}`;
}
