/**
 * A streaming sketch of |x| for percentiles and histograms: log-linear buckets read straight off
 * the float32 bits (exponent and the top 7 mantissa bits), so a bucket spans [v, v(1 + 1/128))
 * and its midpoint is within 2^-8 (0.39%) relative of any value in it. Memory is fixed
 * (8,192 counters for 2^-32 <= |x| < 2^32), whatever the number of values.
 */

/** The relative error bound of `quantile` (for values in the sketched range). */
export const SKETCH_RELATIVE_ERROR = 2 ** -8;

const SUB_BITS = 7; // 128 buckets per octave
const MIN_EXP = 127 - 32; // biased exponent of 2^-32
const MAX_EXP = 127 + 32; // biased exponent of 2^32 (exclusive)
const BUCKETS = (MAX_EXP - MIN_EXP) << SUB_BITS;
const FIRST = MIN_EXP << SUB_BITS;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The value a bucket stands for: the midpoint of its range. */
function bucketValue(b: number): number {
  u32[0] = ((b + FIRST) << (23 - SUB_BITS)) | (1 << (22 - SUB_BITS));
  return f32[0];
}

/**
 * Counts of |x| in log-linear buckets, plus exact zeros, values below 2^-32 ("tiny", taken as 0)
 * and above 2^32 ("huge", taken as the largest seen).
 *
 * @example
 * ```ts
 * const s = new AbsSketch();
 * s.add(Float32Array.from([1, -2, 3]));
 * s.quantile(0.5); // ≈ 2
 * ```
 */
export class AbsSketch {
  readonly counts: Float64Array = new Float64Array(BUCKETS);
  zeros = 0;
  tiny = 0;
  huge = 0;
  max = 0;
  n = 0;

  /** Adds every value of `x` (NaN must have been rejected by the caller). */
  add(x: Float32Array): void {
    this.addBuckets(x);
    for (let i = 0; i < x.length; i++) {
      const v = Math.abs(x[i]);
      if (v > this.max) this.max = v;
    }
  }

  /** Counts `x` into the buckets without tracking the maximum (the caller sets `max`). */
  addBuckets(x: Float32Array): void {
    const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const counts = this.counts;
    for (let i = 0; i < bits.length; i++) {
      const a = bits[i] & 0x7fffffff;
      const b = (a >>> (23 - SUB_BITS)) - FIRST;
      if (b >= 0 && b < BUCKETS) counts[b]++;
      else if (a === 0) this.zeros++;
      else if (b < 0) this.tiny++;
      else this.huge++;
    }
    this.n += x.length;
  }

  /** Adds another sketch's counts. */
  merge(o: AbsSketch): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += o.counts[i];
    this.zeros += o.zeros;
    this.tiny += o.tiny;
    this.huge += o.huge;
    this.max = Math.max(this.max, o.max);
    this.n += o.n;
  }

  /** Empties the sketch. */
  reset(): void {
    this.counts.fill(0);
    this.zeros =
      this.tiny =
      this.huge =
      this.max =
      this.n =
        0;
  }

  /** The value of order statistic k (0-based, ascending), within SKETCH_RELATIVE_ERROR. */
  orderStatistic(k: number): number {
    if (k < this.zeros + this.tiny) return 0;
    let seen = this.zeros + this.tiny;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b];
      if (k < seen) return Math.min(bucketValue(b), this.max);
    }
    return this.max;
  }

  /**
   * The q-quantile (0..1) of |x| with linear interpolation between order statistics (as
   * numpy's and torch's default), each order statistic within SKETCH_RELATIVE_ERROR.
   */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const rank = q * (this.n - 1);
    const lo = Math.floor(rank), hi = Math.ceil(rank);
    const a = this.orderStatistic(lo);
    return hi === lo ? a : a + (rank - lo) * (this.orderStatistic(hi) - a);
  }

  /**
   * A histogram of |x| on log-linear bins: each octave [2^e, 2^(e+1)) split into `perOctave`
   * equal parts (a divisor of 128), so bins are log-spaced from octave to octave; bins [lo, hi)
   * with nonzero counts, ascending; exact zeros (and tiny values) as the bin [0, 0].
   */
  histogram(perOctave = 4): { lo: number; hi: number; count: number }[] {
    const group = (1 << SUB_BITS) / perOctave;
    if (!Number.isInteger(group)) throw new Error(`perOctave must divide 128, got ${perOctave}`);
    const out: { lo: number; hi: number; count: number }[] = [];
    if (this.zeros + this.tiny) out.push({ lo: 0, hi: 0, count: this.zeros + this.tiny });
    for (let g = 0; g < BUCKETS / group; g++) {
      let c = 0;
      for (let j = 0; j < group; j++) c += this.counts[g * group + j];
      if (!c) continue;
      const octave = Math.floor((g * group) / 128) + MIN_EXP - 127;
      const k = g % perOctave;
      out.push({
        lo: 2 ** octave * (1 + k / perOctave),
        hi: 2 ** octave * (1 + (k + 1) / perOctave),
        count: c,
      });
    }
    if (this.huge) out.push({ lo: 2 ** 32, hi: Math.max(this.max, 2 ** 32), count: this.huge });
    return out;
  }
}
