/**
 * The scoring engine: log-probabilities of continuation tokens, batched the recurrent way.
 *
 * lm-eval feeds `(context + continuation)[-(maxLength + 1):][:-1]` and reads the last
 * `continuation.length` positions. For a recurrent model that input splits into
 *   prefix = input[: -len(cont)]  (only its final state matters) and
 *   tail   = input[-len(cont):]   (the last context token and all but the last continuation token),
 * so requests with the same prefix share one prefill, and tails of equal length from any prefixes
 * run together from a state gathered row by row (for models with attention, whose key/value
 * caches grow with the tokens seen, only tails whose prefixes have equal lengths). Long runs are cut along time so that no logits
 * tensor exceeds `maxLogits` values; the state carries across the cuts.
 *
 * Glossary: b = rows of a run, l = tokens per row, v = vocab_size.
 */
import { KitError } from "../errors.ts";
import type { MambaState, Model } from "../model.ts";
import type { LoglikelihoodResult, TokenRequest } from "./requests.ts";
import { gatherState, type StateRow } from "./state.ts";

export interface ScoreOptions {
  /** Left-truncation length (lm-eval's `max_length`). Default 2048. */
  maxLength?: number;
  /** Most rows in one model run. Default 16. */
  batchSize?: number;
  /** Most logits values (b * l * v) in one model run. Default 2^25. */
  maxLogits?: number;
  /** Called after each run of continuations with the number of requests done so far. */
  onProgress?: (done: number) => void;
  /** Names request `i` in error messages. Default `request i`. */
  describe?: (i: number) => string;
}

/** Work done by one call: tokens fed to the model, model runs and wall time. */
export interface ScoreStats {
  tokens: number;
  runs: number;
  seconds: number;
}

interface Plan {
  prefix: number[];
  tail: number[];
  targets: number[];
}

/**
 * Scores token requests with lm-eval's semantics: `logprob` is the sum of the continuation's
 * log-softmax values and `isGreedy` whether each continuation token is the argmax.
 *
 * @example
 * ```ts
 * const { results, stats } = await scoreTokens(model, [{ context: [0], continuation: [5, 9] }]);
 * console.log(results[0].logprob, stats.tokens / stats.seconds);
 * ```
 */
export async function scoreTokens(
  model: Model,
  requests: TokenRequest[],
  options: ScoreOptions = {},
): Promise<{ results: LoglikelihoodResult[]; stats: ScoreStats }> {
  const maxLength = options.maxLength ?? 2048;
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const maxLogits = options.maxLogits ?? 2 ** 25;
  const describe = options.describe ?? ((i: number) => `request ${i}`);
  const v = model.config.vocab_size;
  const grows = model.stateLayout.some((t) => t.grows);
  const t0 = performance.now();
  const stats: ScoreStats = { tokens: 0, runs: 0, seconds: 0 };

  const plans = requests.map((r, i): Plan => {
    if (r.context.length === 0) throw new KitError(`${describe(i)}: the context has no tokens`);
    if (r.continuation.length === 0) {
      throw new KitError(`${describe(i)}: the continuation has no tokens`);
    }
    if (r.continuation.length > maxLength) {
      throw new KitError(
        `${describe(i)}: the continuation has ${r.continuation.length} tokens, more than the ` +
          `maximum length ${maxLength}`,
      );
    }
    const input = [...r.context, ...r.continuation].slice(-(maxLength + 1), -1);
    const split = input.length - r.continuation.length;
    return { prefix: input.slice(0, split), tail: input.slice(split), targets: r.continuation };
  });

  // Requests sharing a prefix, longest prefixes first.
  const byPrefix = new Map<string, number[]>();
  plans.forEach((p, i) => {
    const key = p.prefix.join(",");
    const g = byPrefix.get(key);
    if (g) g.push(i);
    else byPrefix.set(key, [i]);
  });
  const groups = [...byPrefix.values()].sort((a, b) =>
    plans[b[0]].prefix.length - plans[a[0]].prefix.length
  );

  // Runs `ids` (equal lengths) from `state`, cut along time; `onLogits(logits [b, c, v], t0)`.
  const run = async (
    ids: number[][],
    state: MambaState | undefined,
    onLogits?: (logits: Float32Array, start: number, len: number) => void,
  ): Promise<MambaState> => {
    const b = ids.length, l = ids[0].length;
    const step = Math.max(1, Math.floor(maxLogits / (b * v)));
    for (let s = 0; s < l; s += step) {
      const chunk = ids.map((row) => row.slice(s, s + step));
      const out = await model.prefill(chunk, state);
      stats.tokens += b * chunk[0].length;
      stats.runs++;
      onLogits?.(out.logits, s, chunk[0].length);
      state = out.state;
    }
    return state!;
  };

  const results: LoglikelihoodResult[] = new Array(requests.length);
  let done = 0;
  for (let g0 = 0; g0 < groups.length; g0 += batchSize) {
    const chunkGroups = groups.slice(g0, g0 + batchSize);
    // 1. One prefill per distinct prefix (equal lengths batched): the state after it.
    const rowOf = new Map<number[], StateRow>();
    const byLen = new Map<number, number[][]>();
    for (const g of chunkGroups) {
      const len = plans[g[0]].prefix.length;
      if (len === 0) rowOf.set(g, null);
      else byLen.set(len, [...(byLen.get(len) ?? []), g]);
    }
    for (const gs of byLen.values()) {
      const state = await run(gs.map((g) => plans[g[0]].prefix), undefined);
      gs.forEach((g, row) => rowOf.set(g, { state, row }));
    }
    // 2. Tails of equal length together, each row from its prefix's state.
    const members: { i: number; from: StateRow }[] = [];
    for (const g of chunkGroups) for (const i of g) members.push({ i, from: rowOf.get(g)! });
    // (attention caches grow with the tokens seen: their rows must also share the prefix length)
    const byTail = new Map<string, { len: number; ms: typeof members }>();
    for (const m of members) {
      const len = plans[m.i].tail.length;
      const key = grows ? `${len}/${plans[m.i].prefix.length}` : `${len}`;
      const g = byTail.get(key) ?? { len, ms: [] };
      g.ms.push(m);
      byTail.set(key, g);
    }
    for (const { ms } of [...byTail.values()].sort((a, b) => b.len - a.len)) {
      for (let m0 = 0; m0 < ms.length; m0 += batchSize) {
        const batch = ms.slice(m0, m0 + batchSize);
        const acc = batch.map(() => ({ logprob: 0, isGreedy: true }));
        const state = batch.every((m) => m.from === null)
          ? undefined
          : gatherState(model, batch.map((m) => m.from));
        await run(batch.map((m) => plans[m.i].tail), state, (logits, start, c) => {
          batch.forEach((m, row) => {
            const targets = plans[m.i].targets;
            for (let t = 0; t < c; t++) {
              const o = (row * c + t) * v;
              const { logprob, argmax } = logSoftmaxAt(logits, o, v, targets[start + t]);
              if (!Number.isFinite(logprob)) {
                throw new KitError(
                  `${describe(m.i)}: the model's log-probability of token ${
                    start + t
                  } is ${logprob} (non-finite logits): its weights or inputs are not usable`,
                );
              }
              acc[row].logprob += logprob;
              if (argmax !== targets[start + t]) acc[row].isGreedy = false;
            }
          });
        });
        batch.forEach((m, row) => results[m.i] = acc[row]);
        done += batch.length;
        options.onProgress?.(done);
      }
    }
  }
  stats.seconds = (performance.now() - t0) / 1000;
  return { results, stats };
}

/**
 * log_softmax(x)[target] over `v` logits from `offset`, in float64, and the argmax (first on
 * ties, as torch).
 */
export function logSoftmaxAt(
  x: Float32Array,
  offset: number,
  v: number,
  target: number,
): { logprob: number; argmax: number } {
  let mx = -Infinity, arg = 0;
  for (let j = 0; j < v; j++) {
    if (x[offset + j] > mx) {
      mx = x[offset + j];
      arg = j;
    }
  }
  let sum = 0;
  for (let j = 0; j < v; j++) sum += Math.exp(x[offset + j] - mx);
  return { logprob: x[offset + target] - mx - Math.log(sum), argmax: arg };
}
