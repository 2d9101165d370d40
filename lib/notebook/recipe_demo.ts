/**
 * Quamba's two tricks on one layer, as numbers (notebooks/02_recipe.ipynb): the SSM input `u`
 * quantized with a max scale vs a percentile (clipping) scale, and the out_proj input `y`
 * quantized directly vs after an orthonormal Hadamard rotation. Errors are those of static
 * per-tensor int8 fake quantization (lib/quant/int8.ts: float32 division, half to even,
 * saturated to [-128, 127]).
 *
 * @example
 * ```ts
 * const layer = await collectLayer(EMBEDDED_MODEL, { layer: 1, samples: 4 });
 * const rows = recipeRows(layer);
 * ```
 * @module
 */
import { openCheckpoint } from "../checkpoint.ts";
import { loadCalibration } from "../calibration.ts";
import { hadamardRows } from "../hadamard.ts";
import { KitError } from "../errors.ts";
import { ActivationObserver } from "../observe.ts";
import { DEFAULT_CALIBRATION } from "../paths.ts";
import { absmax, fakeQuant, scaleOf } from "../quant/int8.ts";
import { loadTokenizer } from "../tokenizer.ts";

/** How far a fake-quantized tensor is from the original. */
export interface QuantError {
  /** The int8 step (scale); the representable range is ±127·scale. */
  scale: number;
  /** mean of (x̂ − x)² */
  mse: number;
  /** max |x̂ − x| */
  maxError: number;
  /** signal-to-quantization-noise ratio 10·log10(Σx² / Σ(x̂ − x)²), dB (Infinity if exact) */
  sqnrDb: number;
  /** share of values clipped: beyond the int8 range by more than half a step, |x| > 127.5·scale
   * (their error exceeds any rounding error) */
  clippedFraction: number;
  /** share of the nonzero values that quantize to 0 (|x| < scale/2): lost to rounding */
  zeroFraction: number;
}

/**
 * Fake quantization of every value at one scale (int8 code × scale, in float32).
 *
 * @example
 * ```ts
 * fakeQuantize(Float32Array.from([0.26, -3]), 0.5); // [0.5, -3]
 * ```
 */
export function fakeQuantize(x: ArrayLike<number>, scale: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = fakeQuant(x[i], scale);
  return out;
}

/**
 * Error statistics of an approximation `xhat` of `x` (any two arrays of equal length), with
 * `scale` the int8 step used (for the clipped and rounded-to-zero shares, which refer to `x`).
 *
 * @example
 * ```ts
 * const e = errorStats(x, fakeQuantize(x, s), s);
 * ```
 */
export function errorStats(
  x: ArrayLike<number>,
  xhat: ArrayLike<number>,
  scale: number,
): QuantError {
  if (x.length !== xhat.length) throw new KitError("errorStats: arrays of different lengths");
  if (x.length === 0) throw new KitError("errorStats: no values");
  let se = 0, sx = 0, maxError = 0, clipped = 0, zeros = 0, nonzero = 0;
  const bound = 127.5 * scale, half = scale / 2;
  for (let i = 0; i < x.length; i++) {
    const v = x[i], e = xhat[i] - v, a = Math.abs(v);
    se += e * e;
    sx += v * v;
    if (Math.abs(e) > maxError) maxError = Math.abs(e);
    if (a > bound) clipped++;
    if (a > 0) {
      nonzero++;
      if (a < half) zeros++;
    }
  }
  return {
    scale,
    mse: se / x.length,
    maxError,
    sqnrDb: se === 0 ? Infinity : 10 * Math.log10(sx / se),
    clippedFraction: clipped / x.length,
    zeroFraction: nonzero ? zeros / nonzero : 0,
  };
}

/**
 * The error of quantizing `x` per tensor at `scale`: MSE, max error, SQNR (dB), share clipped.
 *
 * @example
 * ```ts
 * const u = Float32Array.from([0.1, -0.4, 2, 30]);
 * quantizationError(u, scaleOf(30)).sqnrDb;            // max scale: no clipping
 * quantizationError(u, scaleOf(2)).clippedFraction;    // 0.25: the 30 saturates at 2
 * ```
 */
export function quantizationError(x: ArrayLike<number>, scale: number): QuantError {
  return errorStats(x, fakeQuantize(x, scale), scale);
}

/**
 * The p-th percentile (0–100) of |x|, exact (nearest rank on the sorted magnitudes).
 *
 * @example
 * ```ts
 * percentileAbs(Float32Array.from([-4, 1, 2, 3]), 50); // 2
 * ```
 */
export function percentileAbs(x: ArrayLike<number>, p: number): number {
  if (!(p > 0 && p <= 100)) throw new KitError(`percentile must be in (0, 100], got ${p}`);
  if (x.length === 0) throw new KitError("percentileAbs: no values");
  const a = Float32Array.from(x, Math.abs).sort();
  return a[Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1))];
}

/**
 * Largest |x| of each channel of `x` ([rows, channels] row-major).
 *
 * @example
 * ```ts
 * channelAbsmax(Float32Array.from([1, -5, -2, 3]), 2); // [2, 5]
 * ```
 */
export function channelAbsmax(x: ArrayLike<number>, channels: number): Float32Array {
  if (x.length % channels !== 0) {
    throw new KitError(`channelAbsmax: ${x.length} values are not rows of ${channels}`);
  }
  const m = new Float32Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels, a = Math.abs(x[i]);
    if (a > m[c]) m[c] = a;
  }
  return m;
}

/** The Hadamard path: rotate, quantize at the rotated tensor's max scale, rotate back. */
export interface RotatedQuantization {
  /** H·x per row */
  rotated: Float32Array;
  /** the rotated tensor's int8 step */
  scale: number;
  /** Hᵀ·fakeQuant(H·x): the reconstruction in the original space */
  restored: Float32Array;
  /** errors of `restored` against x (the same as in the rotated space: H is orthonormal) */
  error: QuantError;
}

/**
 * Quantizes `x` ([rows, channels]) the way Quamba does the out_proj input: rotate each row with
 * the orthonormal Hadamard matrix, quantize per tensor with a max scale, and (to compare with
 * direct quantization) rotate the result back.
 *
 * @example
 * ```ts
 * const r = rotatedQuantization(layer.y, layer.channels);
 * r.error.sqnrDb > quantizationError(layer.y, scaleOf(absmax(layer.y))).sqnrDb; // usually
 * ```
 */
export function rotatedQuantization(x: Float32Array, channels: number): RotatedQuantization {
  const rotated = hadamardRows(x, channels);
  const scale = scaleOf(absmax(rotated));
  const restored = hadamardRows(fakeQuantize(rotated, scale), channels, { transpose: true });
  const error = errorStats(x, restored, scale);
  // clipping never happens at a max scale; count it in the rotated space where it is defined
  return { rotated, scale, restored, error: { ...error, clippedFraction: 0 } };
}

/** Bins of |x| as the kit's statistics use them: each octave split in 4 equal bins. */
export interface MagnitudeBin {
  lo: number;
  hi: number;
  /** values in the bin */
  count: number;
  /** share of all values (zeros included) */
  share: number;
  /** mean |x̂ − x| of the bin's values (with `errorByMagnitude`), else NaN */
  meanError: number;
}

function binOf(a: number): { k: number; lo: number; hi: number } {
  const e = Math.floor(Math.log2(a));
  const base = 2 ** e;
  const j = Math.min(3, Math.floor(((a / base) - 1) * 4));
  return { k: e * 4 + j, lo: base * (1 + j / 4), hi: base * (1 + (j + 1) / 4) };
}

/**
 * Log-spaced histogram of |x| (4 bins per octave; exact zeros left out of the bins but counted
 * in the shares' total), and, given an approximation `xhat`, the mean |error| per bin.
 *
 * @example
 * ```ts
 * const bins = errorByMagnitude(u, fakeQuantize(u, s)); // [{ lo, hi, count, share, meanError }]
 * ```
 */
export function errorByMagnitude(x: ArrayLike<number>, xhat?: ArrayLike<number>): MagnitudeBin[] {
  if (xhat && xhat.length !== x.length) {
    throw new KitError("errorByMagnitude: arrays of different lengths");
  }
  const bins = new Map<number, MagnitudeBin & { sum: number }>();
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (!(a > 0)) continue;
    const { k, lo, hi } = binOf(a);
    let b = bins.get(k);
    if (!b) bins.set(k, b = { lo, hi, count: 0, share: 0, meanError: NaN, sum: 0 });
    b.count++;
    if (xhat) b.sum += Math.abs(xhat[i] - x[i]);
  }
  return [...bins.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => ({
    lo: b.lo,
    hi: b.hi,
    count: b.count,
    share: b.count / x.length,
    meanError: xhat ? b.sum / b.count : NaN,
  }));
}

/** One layer's activations over a few calibration samples ([tokens, channels] row-major). */
export interface LayerActivations {
  model: string;
  layer: number;
  /** d_inner: channels of u and y */
  channels: number;
  tokens: number;
  samples: number;
  /** the SSM input (conv1d + SiLU output) */
  u: Float32Array;
  /** the out_proj input (SSM output after the gate) */
  y: Float32Array;
  /** y after the observer graph's own Hadamard rotation (ONNX), to check `hadamardRows` against */
  yHad: Float32Array;
}

export interface CollectLayerOptions {
  layer: number;
  /** calibration samples (default 4) of up to `maxLen` tokens (default 512) */
  samples?: number;
  maxLen?: number;
  /** calibration text (default: the shipped WikiText-2 sample) */
  calibration?: string;
  cacheDir?: string;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Runs a few calibration samples through a checkpoint's observation graph (lib/observe.ts)
 * and keeps one layer's `u`, `y` and `y_had`.
 *
 * @example
 * ```ts
 * const layer = await collectLayer(EMBEDDED_MODEL, { layer: 1, samples: 4 });
 * layer.u.length === layer.tokens * layer.channels; // true
 * ```
 */
export async function collectLayer(
  model: string,
  options: CollectLayerOptions,
): Promise<LayerActivations> {
  const ckpt = await openCheckpoint(model);
  const L = ckpt.config.num_hidden_layers, { layer } = options;
  if (!(Number.isInteger(layer) && layer >= 0 && layer < L)) {
    throw new KitError(`layer ${layer} out of range: the model has layers 0..${L - 1}`);
  }
  const mixer = ckpt.arch.mixers(ckpt.config).find((m) => m.layer === layer);
  if (!mixer) {
    throw new KitError(
      `layer ${layer} of ${ckpt.dir} has no Mamba mixer (it is an attention layer)`,
    );
  }
  const calib = await loadCalibration(
    options.calibration ?? DEFAULT_CALIBRATION,
    await loadTokenizer(ckpt.dir),
    { samples: options.samples ?? 4, maxLen: options.maxLen ?? 512 },
  );
  const obs = await ActivationObserver.open(ckpt, { cacheDir: options.cacheDir });
  const parts: Record<"u" | "y" | "y_had", Float32Array[]> = { u: [], y: [], y_had: [] };
  try {
    for (const ids of calib.samples) {
      await obs.observe(ids, (l, tensor, data) => {
        if (l === layer && tensor in parts) {
          parts[tensor as keyof typeof parts].push(data.slice());
        }
      });
    }
  } finally {
    await obs.close();
  }
  const e = mixer.e;
  const u = concat(parts.u);
  return {
    model: ckpt.dir,
    layer,
    channels: e,
    tokens: u.length / e,
    samples: calib.samples.length,
    u,
    y: concat(parts.y),
    yHad: concat(parts.y_had),
  };
}

/** A row of the notebook's error table. */
export interface RecipeRow {
  tensor: string;
  quantization: string;
  /** the int8 step */
  scale: number;
  /** the representable range ±127·scale */
  range: number;
  "clipped %": number;
  "rounded to 0 %": number;
  mse: number;
  "max error": number;
  "SQNR dB": number;
}

function row(tensor: string, quantization: string, e: QuantError): RecipeRow {
  return {
    tensor,
    quantization,
    scale: e.scale,
    range: 127 * e.scale,
    "clipped %": 100 * e.clippedFraction,
    "rounded to 0 %": 100 * e.zeroFraction,
    mse: e.mse,
    "max error": e.maxError,
    "SQNR dB": e.sqnrDb,
  };
}

/**
 * The four cases of the recipe on one layer: `u` at its max scale and at the percentile scale
 * (clipping), `y` at its max scale and through the Hadamard rotation (error measured after
 * rotating back).
 *
 * @example
 * ```ts
 * showTable(recipeRows(layer, { percentile: 99.999 }));
 * ```
 */
export function recipeRows(
  layer: Pick<LayerActivations, "u" | "y" | "channels">,
  options: { percentile?: number } = {},
): RecipeRow[] {
  const p = options.percentile ?? 99.999;
  const { u, y, channels } = layer;
  return [
    row("u", "max scale (absmax / 127)", quantizationError(u, scaleOf(absmax(u)))),
    row("u", `clipped: p${p} scale`, quantizationError(u, scaleOf(percentileAbs(u, p)))),
    row("y", "max scale (absmax / 127)", quantizationError(y, scaleOf(absmax(y)))),
    row("y", "Hadamard, then max scale", rotatedQuantization(y, channels).error),
  ];
}

/** One clipping bound of a sweep. */
export interface SweepRow {
  /** "max", or the percentile's name, e.g. "p99.999" */
  bound: string;
  /** the percentile (100 for the max) */
  percentile: number;
  scale: number;
  "clipped %": number;
  mse: number;
  "SQNR dB": number;
}

/**
 * Quantization error of `x` at the scales of several clipping percentiles of |x| (and at its
 * max): too little clipping wastes int8 steps on rare outliers, too much clips real values.
 *
 * @example
 * ```ts
 * clippingSweep(layer.u, [99, 99.9, 99.99, 99.999]); // rows for p99 … p99.999 and max
 * ```
 */
export function clippingSweep(x: ArrayLike<number>, percentiles: number[]): SweepRow[] {
  const sorted = Float32Array.from(x, Math.abs).sort();
  if (sorted.length === 0) throw new KitError("clippingSweep: no values");
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const ps = [...new Set([...percentiles, 100])].sort((a, b) => a - b);
  return ps.map((p) => {
    if (!(p > 0 && p <= 100)) throw new KitError(`percentile must be in (0, 100], got ${p}`);
    const e = quantizationError(x, scaleOf(at(p)));
    return {
      bound: p === 100 ? "max" : `p${p}`,
      percentile: p,
      scale: e.scale,
      "clipped %": 100 * e.clippedFraction,
      mse: e.mse,
      "SQNR dB": e.sqnrDb,
    };
  });
}
