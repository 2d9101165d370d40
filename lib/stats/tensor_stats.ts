/**
 * Statistics of one activation tensor of one layer, accumulated over calibration samples with
 * fixed memory: absmax, per-channel absmax, moments, a percentile sketch of |x| over everything,
 * and Quamba's per-sample percentile followed by an EMA across samples.
 */
import { AbsSketch } from "./sketch.ts";
import { Moments } from "./moments.ts";

export interface TensorStatsOptions {
  /** Percentiles (0-100) whose per-sample value is tracked with an EMA. Default [99.999]. */
  emaPercentiles?: number[];
  /** EMA weight of each new sample: ema += w (p_sample - ema). Default 0.01 (Quamba). */
  emaWeight?: number;
}

/**
 * Accumulator for one (layer, tensor).
 *
 * @example
 * ```ts
 * const s = new TensorStats(4);
 * s.add(Float32Array.from([1, -5, 2, 0, 3, 1, -1, 2])); // two rows of 4 channels
 * s.endSample();
 * s.absmax; // 5
 * ```
 */
export class TensorStats {
  readonly channelAbsmax: Float32Array;
  readonly moments: Moments = new Moments();
  readonly sketch: AbsSketch = new AbsSketch();
  private readonly sample = new AbsSketch();
  readonly emaPercentiles: number[];
  readonly emaWeight: number;
  /** EMA of the per-sample percentile, per entry of emaPercentiles (NaN before any sample). */
  readonly ema: number[];
  samples = 0;

  constructor(readonly channels: number, options: TensorStatsOptions = {}) {
    this.channelAbsmax = new Float32Array(channels);
    this.emaPercentiles = options.emaPercentiles ?? [99.999];
    this.emaWeight = options.emaWeight ?? 0.01;
    this.ema = this.emaPercentiles.map(() => NaN);
  }

  /**
   * Adds rows of values ([rows, channels] row-major) of the current sample. Returns the index of
   * the first non-finite value, or -1 when all are finite (nothing is added then).
   */
  add(x: Float32Array): number {
    const C = this.channels, ch = this.channelAbsmax;
    let sum = 0, bmax = 0;
    // pass 1: finiteness, per-channel absmax, the sum
    for (let row = 0; row < x.length; row += C) {
      for (let c = 0; c < C; c++) {
        const xv = x[row + c], v = Math.abs(xv);
        if (!(v <= 3.4028234663852886e38)) return row + c; // NaN or ±Infinity
        if (v > ch[c]) ch[c] = v;
        if (v > bmax) bmax = v;
        sum += xv;
      }
    }
    // pass 2: central moments of this batch; then the sketch's buckets
    const mean = sum / x.length;
    let m2 = 0, m3 = 0, m4 = 0;
    for (let i = 0; i < x.length; i++) {
      const d = x[i] - mean, d2 = d * d;
      m2 += d2;
      m3 += d2 * d;
      m4 += d2 * d2;
    }
    if (x.length) this.moments.addCentral(x.length, mean, m2, m3, m4);
    this.sample.addBuckets(x);
    if (bmax > this.sample.max) this.sample.max = bmax;
    return -1;
  }

  /** Closes the current sample: its percentiles update the EMAs (the first sample sets them). */
  endSample(): void {
    if (this.sample.n === 0) return;
    this.emaPercentiles.forEach((p, k) => {
      const v = this.sample.quantile(p / 100);
      this.ema[k] = this.samples === 0 ? v : this.ema[k] + this.emaWeight * (v - this.ema[k]);
    });
    this.sketch.merge(this.sample);
    this.sample.reset();
    this.samples++;
  }

  get absmax(): number {
    return this.sketch.max;
  }

  get count(): number {
    return this.sketch.n;
  }
}
