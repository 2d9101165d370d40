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

/** Percentiles of |x| reported per tensor over all samples. */
export const PERCENTILES = [99, 99.9, 99.99, 99.999] as const;

/** Statistic name of a percentile: 99.999 → "p99.999". */
export function percentileName(p: number): string {
  return `p${p}`;
}
