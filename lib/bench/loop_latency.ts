/**
 * Latency of generation through the device loop (lib/device_loop.ts): the graphs choose each
 * token, the states stay in two device buffer sets, decode steps are captured as device graphs
 * (CUDA graphs, WebGPU graph capture) and replayed; the host reads the ids. TTFT is the prefill
 * up to the host holding the first id; each TPOT sample is one step up to the host holding its id.
 */
import { archOfConfig, type ModelConfig } from "../arch/registry.ts";
import { DeviceLoop } from "../device_loop.ts";
import { createModelSessions, type Ep, type SessionOptions } from "../runtime.ts";
import { type LatencyOptions, type LatencyResult, promptIds, summarizeLatency } from "./latency.ts";

/** Session options that let the decode session be captured as a device graph on `ep`. */
export function captureOptions(ep: Ep): SessionOptions {
  if (ep === "cuda") return { cuda: { enableCudaGraph: true } };
  if (ep === "webgpu") return { webgpu: { enableGraphCapture: "1" } };
  return {};
}

/**
 * Measures TTFT, TPOT and TTLT of the graphs in `dir` (with `next_ids` outputs) through the
 * device loop, after `warmup` untimed generations (which also capture the step graphs).
 *
 * @example
 * ```ts
 * const r = await measureLoopLatency(dir, config, "cuda", { prompt: 512, gen: 256, warmup: 1, repeats: 2 });
 * ```
 */
export async function measureLoopLatency(
  dir: string,
  config: ModelConfig,
  ep: Ep,
  o: LatencyOptions & { maxPrefill?: number; graphCapture?: boolean; threads?: number },
): Promise<LatencyResult> {
  const capture = o.graphCapture ?? ep !== "cpu";
  const { prefill, decode } = await createModelSessions(dir, ep, {
    threads: o.threads,
    decode: capture ? captureOptions(ep) : {},
  });
  const loop = await DeviceLoop.open(
    prefill,
    decode,
    ep,
    archOfConfig(config).stateLayout(config),
    {
      maxPrefill: o.maxPrefill,
      graphCapture: capture,
    },
  );
  try {
    const ids = promptIds(o.prompt, config.vocab_size);
    const total = o.warmup + o.repeats;
    const runs: number[][] = [];
    for (let r = 0; r < total; r++) {
      const times: number[] = [];
      let t = performance.now();
      await loop.generate([ids], {
        maxNewTokens: o.gen,
        onTokens: () => {
          const now = performance.now();
          times.push(now - t);
          t = now;
        },
      });
      if (r >= o.warmup) runs.push(times);
      o.onRepeat?.(r + 1, total);
    }
    return summarizeLatency(runs, o.prompt, o.gen);
  } finally {
    loop.close();
    await prefill.release();
    await decode.release();
  }
}
