/**
 * Ratios of latencies measured interleaved: several models open in one process, each round
 * timing one prefill and a block of decode steps of every model in turn, so that a burst of load
 * from other processes (the machine is shared) hits all of them alike. Medians over rounds.
 */
import { argmax, type Model } from "../model.ts";
import { summarize } from "../stats_time.ts";
import { promptIds, type Summary } from "./latency.ts";

export interface InterleavedResult {
  method: string;
  ttft: Summary;
  /** mean decode step of each round's block */
  tpot: Summary;
}

/**
 * Times `models` in `rounds` rounds after one untimed round.
 *
 * @example
 * ```ts
 * const r = await interleaved([fp32, quamba], { prompt: 512, steps: 32, rounds: 10 });
 * r[0].tpot.median / r[1].tpot.median; // int8 speed-up at decode
 * ```
 */
export async function interleaved(
  models: Model[],
  o: { prompt: number; steps: number; rounds: number; onRound?: () => void },
): Promise<InterleavedResult[]> {
  const v = models[0].config.vocab_size;
  const ids = promptIds(o.prompt, v);
  const ttft = models.map(() => [] as number[]), tpot = models.map(() => [] as number[]);
  for (let r = 0; r <= o.rounds; r++) {
    for (let i = 0; i < models.length; i++) {
      const m = models[i];
      let t = performance.now();
      let { logits, state } = await m.prefill([ids]);
      let next = argmax(logits, logits.length - v, v);
      const pre = performance.now() - t;
      t = performance.now();
      for (let s = 0; s < o.steps; s++) {
        const old = state;
        ({ logits, state } = await m.decode([next], state));
        m.disposeState(old);
        next = argmax(logits, 0, v);
      }
      m.disposeState(state);
      if (r > 0) {
        ttft[i].push(pre);
        tpot[i].push((performance.now() - t) / o.steps);
      }
    }
    o.onRound?.();
  }
  return models.map((m, i) => ({
    method: m.method,
    ttft: summarize(ttft[i]),
    tpot: summarize(tpot[i]),
  }));
}
