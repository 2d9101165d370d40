/**
 * Cluster (block) bootstrap: confidence intervals for statistics of per-token values whose
 * tokens come in clusters (the windows of text they were scored in). Tokens of one window share
 * the model's state, so their errors are correlated; resampling whole windows keeps that
 * correlation inside each draw, where resampling tokens one by one would treat them as
 * independent and give intervals that are too narrow.
 *
 * A draw picks as many windows as there are, uniformly with replacement (mulberry32, seeded, so
 * a run repeats exactly); a window drawn k times counts its tokens k times. The interval is the
 * percentile interval of the statistic over the draws. Quantiles are the inverse of the
 * empirical distribution function: the smallest value whose cumulative weight reaches q · total.
 */
import { mulberry32 } from "../random.ts";

/** A statistic and its bootstrap confidence interval. */
export interface Estimate {
  value: number;
  lo: number;
  hi: number;
}

export interface BootstrapOptions {
  /** Number of draws; default 1000. */
  resamples?: number;
  /** Seed of the generator; default 20250127. */
  seed?: number;
  /** Coverage of the interval; default 0.95. */
  level?: number;
}

/**
 * `value [lo, hi]` with 3 significant digits (below 1e-3 in exponent form), times `scale`.
 *
 * @example
 * ```ts
 * estimateText({ value: 0.5, lo: 0.25, hi: 0.75 }, 100); // "50 [25, 75]"
 * ```
 */
export function estimateText(e: Estimate, scale = 1): string {
  const f = (x: number) => {
    const v = x * scale;
    if (v === 0) return "0";
    return Math.abs(v) < 1e-3 ? v.toExponential(2) : Number(v.toPrecision(3)).toString();
  };
  return `${f(e.value)} [${f(e.lo)}, ${f(e.hi)}]`;
}

/** Defaults of BootstrapOptions. */
export const BOOTSTRAP_DEFAULTS: Required<BootstrapOptions> = {
  resamples: 1000,
  seed: 20250127,
  level: 0.95,
};

/** The 1-based rank of the q-quantile among `total` (integer) weights. */
function rankOf(q: number, total: number): number {
  return Math.min(total, Math.max(1, Math.ceil(q * total - 1e-9)));
}

/**
 * How many times each of `clusters` clusters is drawn, for each of `resamples` draws.
 *
 * @example
 * ```ts
 * const draws = clusterDraws(32, { resamples: 1000, seed: 1 }); // 1000 × Uint16Array(32)
 * ```
 */
export function clusterDraws(clusters: number, options: BootstrapOptions = {}): Uint16Array[] {
  const { resamples, seed } = { ...BOOTSTRAP_DEFAULTS, ...options };
  const rng = mulberry32(seed);
  const out: Uint16Array[] = [];
  for (let b = 0; b < resamples; b++) {
    const counts = new Uint16Array(clusters);
    for (let j = 0; j < clusters; j++) counts[Math.floor(rng() * clusters)]++;
    out.push(counts);
  }
  return out;
}

/**
 * The q-quantile of sorted values (inverse of the empirical distribution function).
 *
 * @example
 * ```ts
 * quantileSorted([1, 2, 3, 4], 0.5); // 2
 * ```
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  return sorted[rankOf(q, sorted.length) - 1];
}

/**
 * Per-token values grouped in clusters, with the statistics the bootstrap recomputes under a
 * draw's cluster counts (all counts 1: the sample itself).
 *
 * @example
 * ```ts
 * const s = new ClusteredSample(kl, windowOfToken, windows);
 * s.mean(); s.quantiles([0.5, 0.9]); s.estimate((c) => s.mean(c), clusterDraws(windows));
 * ```
 */
export class ClusteredSample {
  private readonly order: Uint32Array;
  private readonly sums: Float64Array;
  private readonly sizes: Float64Array;
  private readonly maxima: Float64Array;
  private readonly ones: Uint16Array;

  constructor(
    readonly values: Float64Array,
    readonly cluster: ArrayLike<number>,
    readonly clusters: number,
  ) {
    if (cluster.length !== values.length) throw new Error("ClusteredSample: lengths differ");
    this.order = Uint32Array.from(values.keys()).sort((a, b) => values[a] - values[b]);
    this.sums = new Float64Array(clusters);
    this.sizes = new Float64Array(clusters);
    this.maxima = new Float64Array(clusters).fill(-Infinity);
    for (let i = 0; i < values.length; i++) {
      const c = cluster[i];
      if (!(c >= 0 && c < clusters)) throw new Error(`ClusteredSample: cluster ${c} out of range`);
      this.sums[c] += values[i];
      this.sizes[c]++;
      if (values[i] > this.maxima[c]) this.maxima[c] = values[i];
    }
    this.ones = new Uint16Array(clusters).fill(1);
  }

  get length(): number {
    return this.values.length;
  }

  /** Weighted mean (NaN when no token has weight). */
  mean(counts: Uint16Array = this.ones): number {
    let s = 0, n = 0;
    for (let c = 0; c < this.clusters; c++) {
      s += counts[c] * this.sums[c];
      n += counts[c] * this.sizes[c];
    }
    return n > 0 ? s / n : NaN;
  }

  /** Largest value among tokens with weight. */
  max(counts: Uint16Array = this.ones): number {
    let m = -Infinity;
    for (let c = 0; c < this.clusters; c++) {
      if (counts[c] > 0 && this.maxima[c] > m) m = this.maxima[c];
    }
    return m;
  }

  /** Weighted quantiles (each q in [0, 1]), in one pass over the sorted values. */
  quantiles(qs: number[], counts: Uint16Array = this.ones): number[] {
    let total = 0;
    for (let c = 0; c < this.clusters; c++) total += counts[c] * this.sizes[c];
    if (total === 0) return qs.map(() => NaN);
    const ranks = qs.map((q) => rankOf(q, total));
    const out = qs.map(() => NaN);
    let cum = 0, left = qs.length;
    for (let i = 0; i < this.order.length && left > 0; i++) {
      const k = this.order[i];
      const w = counts[this.cluster[k]];
      if (w === 0) continue;
      cum += w;
      for (let j = 0; j < qs.length; j++) {
        if (Number.isNaN(out[j]) && cum >= ranks[j]) {
          out[j] = this.values[k];
          left--;
        }
      }
    }
    return out;
  }

  /**
   * Several statistics at once: each `stat(counts)` returns one number per statistic; the
   * value of each is its statistic on the sample, the interval from the draws.
   */
  estimates(
    stat: (counts: Uint16Array) => number[],
    draws: Uint16Array[],
    level = BOOTSTRAP_DEFAULTS.level,
  ): Estimate[] {
    const point = stat(this.ones);
    const boot = point.map(() => new Float64Array(draws.length));
    draws.forEach((counts, b) => stat(counts).forEach((v, j) => boot[j][b] = v));
    return point.map((value, j) => {
      const sorted = boot[j].filter((v) => !Number.isNaN(v)).sort();
      const a = (1 - level) / 2;
      return sorted.length
        ? { value, lo: quantileSorted(sorted, a), hi: quantileSorted(sorted, 1 - a) }
        : { value, lo: NaN, hi: NaN };
    });
  }

  /** One statistic's estimate (see estimates). */
  estimate(
    stat: (counts: Uint16Array) => number,
    draws: Uint16Array[],
    level?: number,
  ): Estimate {
    return this.estimates((c) => [stat(c)], draws, level)[0];
  }
}
