/**
 * Latency of generation, the paper's way: TTFT (prefill of the prompt up to the first token),
 * TPOT (one decode step, mean over the steps of a generation), TTLT (prefill and greedy
 * generation of all tokens). Each repeat is one whole generation, timed per phase.
 */
import { argmax, type Model } from "../model.ts";
import { summarize } from "../stats_time.ts";

/** mean / median / p90 of repeated timings, ms. */
export interface Summary {
  mean: number;
  median: number;
  p90: number;
  n: number;
}

export interface LatencyResult {
  ttft: Summary;
  /** per repeat: the mean decode step of that generation */
  tpot: Summary;
  ttlt: Summary;
  /** every decode step of every timed repeat (for the spread of single steps) */
  steps: Summary;
  prompt: number;
  gen: number;
}

export interface LatencyOptions {
  /** prompt tokens */
  prompt: number;
  /** generated tokens (the first comes from the prefill, the others from decode steps) */
  gen: number;
  warmup: number;
  repeats: number;
  /** called after each repeat (for a progress bar) */
  onRepeat?: (done: number, total: number) => void;
}

/** A deterministic prompt of `n` ids below `vocab` (speed does not depend on the ids). */
export function promptIds(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + 11) % vocab);
}

/** The next token from prefill logits holding `rows` positions (all, or only the last). */
function lastArgmax(logits: Float32Array, vocab: number): number {
  return argmax(logits, logits.length - vocab, vocab);
}

/** One greedy generation, timed: [prefill ms, decode step ms...]. */
export async function timedGeneration(model: Model, ids: number[], gen: number): Promise<number[]> {
  const v = model.config.vocab_size;
  let t = performance.now();
  let { logits, state } = await model.prefill([ids]);
  let next = lastArgmax(logits, v);
  const times = [performance.now() - t];
  for (let i = 1; i < gen; i++) {
    t = performance.now();
    const old = state;
    ({ logits, state } = await model.decode([next], state));
    model.disposeState(old);
    next = argmax(logits, 0, v);
    times.push(performance.now() - t);
  }
  model.disposeState(state);
  return times;
}

/** Summaries of the three latencies from per-repeat generation timings (`timedGeneration`). */
export function summarizeLatency(runs: number[][], prompt: number, gen: number): LatencyResult {
  const ttft = runs.map((r) => r[0]);
  const decode = runs.map((r) => r.slice(1));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    ttft: summarize(ttft),
    tpot: summarize(decode.map((d) => d.length ? mean(d) : NaN)),
    ttlt: summarize(runs.map((r) => r.reduce((a, b) => a + b, 0))),
    steps: decode.flat().length ? summarize(decode.flat()) : summarize([NaN]),
    prompt,
    gen,
  };
}

/**
 * Measures TTFT, TPOT and TTLT of `model` after `warmup` untimed generations.
 *
 * @example
 * ```ts
 * const r = await measureLatency(model, { prompt: 512, gen: 512, warmup: 1, repeats: 3 });
 * r.tpot.mean; // ms per generated token
 * ```
 */
export async function measureLatency(model: Model, o: LatencyOptions): Promise<LatencyResult> {
  const ids = promptIds(o.prompt, model.config.vocab_size);
  const total = o.warmup + o.repeats;
  const runs: number[][] = [];
  for (let r = 0; r < total; r++) {
    const times = await timedGeneration(model, ids, o.gen);
    if (r >= o.warmup) runs.push(times);
    o.onRepeat?.(r + 1, total);
  }
  return summarizeLatency(runs, o.prompt, o.gen);
}

/** TTFT only, at each prompt length (prefill scaling). */
export async function measurePrefill(
  model: Model,
  lengths: number[],
  o: { warmup: number; repeats: number },
): Promise<{ prompt: number; ttft: Summary }[]> {
  const out = [];
  for (const L of lengths) {
    const ids = promptIds(L, model.config.vocab_size);
    const xs: number[] = [];
    for (let r = 0; r < o.warmup + o.repeats; r++) {
      const t = performance.now();
      const { logits, state } = await model.prefill([ids]);
      lastArgmax(logits, model.config.vocab_size);
      model.disposeState(state);
      if (r >= o.warmup) xs.push(performance.now() - t);
    }
    out.push({ prompt: L, ttft: summarize(xs) });
  }
  return out;
}
