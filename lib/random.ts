/** A small seeded random number generator, for reproducible resampling and test data. */

/**
 * mulberry32: a deterministic generator of numbers in [0, 1) from a 32-bit seed.
 *
 * @example
 * ```ts
 * const next = mulberry32(42);
 * next(); // the same sequence on every run
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
