/**
 * Metrics and their standard errors as lm-eval reports them (`lm_eval/api/metrics.py`):
 * `mean` with `mean_stderr` (sample standard deviation / sqrt(n)); `perplexity` = exp(-mean
 * loglikelihood) with a bootstrap standard error; weighted perplexities and bits per byte
 * (no standard error: lm-eval reports "N/A").
 */
import { KitError } from "../errors.ts";
import { pyLen } from "./pystr.ts";
import { mulberry32 } from "../random.ts";

/** A per-example value: a number, or (loglikelihood, weight) for weighted metrics. */
export type Item = number | [number, number];

/** How one metric aggregates its items. */
export interface Metric {
  aggregate(items: Item[]): number;
  /** Standard error of the aggregate, or null where lm-eval has none. */
  stderr(items: Item[], options: { bootstrapIters: number }): number | null;
  higherIsBetter: boolean;
}

export function mean(xs: number[]): number {
  if (xs.length === 0) throw new KitError("no examples to aggregate");
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1 in the denominator). */
export function sampleStddev(xs: number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** lm-eval's `mean_stderr`. */
export function meanStderr(xs: number[]): number {
  return sampleStddev(xs) / Math.sqrt(xs.length);
}

/** exp(-mean(ll)). */
export function perplexity(lls: number[]): number {
  return Math.exp(-mean(lls));
}

/** exp(-sum(ll) / sum(weight)): lm-eval's `weighted_perplexity`. */
export function weightedPerplexity(items: [number, number][]): number {
  return Math.exp(-weightedMeanLl(items));
}

/** -sum(ll) / sum(bytes) / ln 2: lm-eval's `bits_per_byte`. */
export function bitsPerByte(items: [number, number][]): number {
  return -weightedMeanLl(items) / Math.LN2;
}

function weightedMeanLl(items: [number, number][]): number {
  let ll = 0, w = 0;
  for (const [a, b] of items) {
    ll += a;
    w += b;
  }
  if (w <= 0) throw new KitError("no tokens, words or bytes to aggregate");
  return ll / w;
}

/**
 * lm-eval's `bootstrap_stderr`: the sample standard deviation of `f` over `iters` resamples of
 * `xs` with replacement. Same estimator; a different random generator (seeded, so repeatable),
 * so values agree with lm-eval's to sampling noise, not to the digit.
 *
 * @example
 * ```ts
 * bootstrapStderr(perplexity, [-1.2, -0.3, -2.5, -0.9], 1000);
 * ```
 */
export function bootstrapStderr(
  f: (xs: number[]) => number,
  xs: number[],
  iters: number,
  seed = 1234,
): number {
  if (xs.length < 2 || iters < 2) return NaN;
  const r = mulberry32(seed);
  const n = xs.length, sample = new Array<number>(n), res = new Array<number>(iters);
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < n; i++) sample[i] = xs[Math.floor(r() * n)];
    res[it] = f(sample);
  }
  return sampleStddev(res);
}

const nums = (items: Item[]) => items as number[];
const pairs = (items: Item[]) => items as [number, number][];

/** `acc`, `acc_norm`: mean of 0/1 with `mean_stderr`. */
export const ACC: Metric = {
  aggregate: (items) => mean(nums(items)),
  stderr: (items) => items.length > 1 ? meanStderr(nums(items)) : null,
  higherIsBetter: true,
};

/** `perplexity` (lambada): exp(-mean ll), bootstrap stderr. */
export const PERPLEXITY: Metric = {
  aggregate: (items) => perplexity(nums(items)),
  stderr: (items, o) =>
    items.length > 1 && o.bootstrapIters > 1
      ? bootstrapStderr(perplexity, nums(items), o.bootstrapIters)
      : null,
  higherIsBetter: false,
};

/** `word_perplexity`, `byte_perplexity`, token perplexity: exp(-sum ll / sum weight). */
export const WEIGHTED_PERPLEXITY: Metric = {
  aggregate: (items) => weightedPerplexity(pairs(items)),
  stderr: () => null,
  higherIsBetter: false,
};

/** `bits_per_byte`. */
export const BITS_PER_BYTE: Metric = {
  aggregate: (items) => bitsPerByte(pairs(items)),
  stderr: () => null,
  higherIsBetter: false,
};

/** Index of the largest value, the first on ties (numpy's argmax). */
export function argmaxOf(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/**
 * lm-eval's multiple-choice `acc` and `acc_norm`: the choice with the highest loglikelihood, and
 * the highest loglikelihood per character of the choice (code points, without the delimiter).
 */
export function multipleChoice(
  lls: number[],
  choices: string[],
  gold: number,
): { acc: number; acc_norm: number } {
  const norm = lls.map((ll, i) => ll / pyLen(choices[i]));
  return { acc: argmaxOf(lls) === gold ? 1 : 0, acc_norm: argmaxOf(norm) === gold ? 1 : 0 };
}
