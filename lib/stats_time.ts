/** Summaries of repeated timings. */

/** Mean, median and 90th percentile (nearest rank) of `xs`. */
export function summarize(xs: number[]): { mean: number; median: number; p90: number; n: number } {
  if (xs.length === 0) throw new Error("summarize: no samples");
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const mid = s.length >> 1;
  return {
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
    median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2,
    p90: at(0.9),
    n: xs.length,
  };
}

/** Runs `fn` `warmup` times untimed, then `repeats` times; returns milliseconds per run. */
export async function timeit(
  fn: () => Promise<unknown>,
  warmup: number,
  repeats: number,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}
