/**
 * Streaming mean, variance and kurtosis: central moments of each batch computed in two passes
 * in float64, then merged with Pébay's formulas (2008), so no precision is lost to large means.
 */

/**
 * Running central moments of a stream of values.
 *
 * @example
 * ```ts
 * const m = new Moments();
 * m.add(Float32Array.from([1, 2, 3, 4]));
 * m.mean; // 2.5
 * ```
 */
export class Moments {
  n = 0;
  mean = 0;
  /** sums of (x - mean)^2, ^3, ^4 */
  M2 = 0;
  M3 = 0;
  M4 = 0;

  /** Adds a batch of values. */
  add(x: Float32Array): void {
    if (x.length === 0) return;
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i];
    const mean = s / x.length;
    let m2 = 0, m3 = 0, m4 = 0;
    for (let i = 0; i < x.length; i++) {
      const d = x[i] - mean, d2 = d * d;
      m2 += d2;
      m3 += d2 * d;
      m4 += d2 * d2;
    }
    this.addCentral(x.length, mean, m2, m3, m4);
  }

  /** Merges another accumulator. */
  merge(o: Moments): void {
    if (o.n) this.addCentral(o.n, o.mean, o.M2, o.M3, o.M4);
  }

  /** Adds a batch given by its size, mean and central power sums. */
  addCentral(nb: number, meanB: number, M2b: number, M3b: number, M4b: number): void {
    const na = this.n;
    if (na === 0) {
      [this.n, this.mean, this.M2, this.M3, this.M4] = [nb, meanB, M2b, M3b, M4b];
      return;
    }
    const n = na + nb, d = meanB - this.mean, d2 = d * d;
    const M2 = this.M2 + M2b + d2 * na * nb / n;
    const M3 = this.M3 + M3b + d * d2 * na * nb * (na - nb) / (n * n) +
      3 * d * (na * M2b - nb * this.M2) / n;
    const M4 = this.M4 + M4b +
      d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n) +
      6 * d2 * (na * na * M2b + nb * nb * this.M2) / (n * n) +
      4 * d * (na * M3b - nb * this.M3) / n;
    this.mean += d * nb / n;
    [this.n, this.M2, this.M3, this.M4] = [n, M2, M3, M4];
  }

  /** Population standard deviation. */
  get std(): number {
    return Math.sqrt(this.M2 / this.n);
  }

  /** Pearson's kurtosis m4 / m2^2 (3 for a normal distribution). */
  get kurtosis(): number {
    return this.n * this.M4 / (this.M2 * this.M2);
  }
}
