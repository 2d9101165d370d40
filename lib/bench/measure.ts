/**
 * One (model, method) measurement: open its graphs, time generations (and prefills at other
 * lengths), track the resident memory. `measureIsolated` runs it in a fresh Deno process, so that
 * its peak RSS is its own (memory freed by an earlier model in the same process stays resident).
 */
import { fileURLToPath } from "node:url";
import type { ModelConfig } from "../arch/registry.ts";
import { Progress } from "../progress.ts";
import type { Ep } from "../runtime.ts";
import { type LatencyResult, measureLatency, measurePrefill, type Summary } from "./latency.ts";
import { resetPeakMemory, residentMemory, RssSampler } from "./memory.ts";
import { openBenchModel } from "./open.ts";
import { profileDecodeKernels, type StepKernels } from "./kernels.ts";
import { measureLoopLatency } from "./loop_latency.ts";
import { TASK_PERMISSIONS } from "../paths.ts";

/** What one measurement needs (JSON, to pass to a child process). */
export interface MeasureSpec {
  dir: string;
  config: ModelConfig;
  model: string;
  method: string;
  ep: Ep;
  threads?: number;
  prompt: number;
  gen: number;
  warmup: number;
  repeats: number;
  /** TTFT alone at these prompt lengths */
  scaling: number[];
  /** count the kernels of a decode step first (a profiled session of its own) */
  kernels?: boolean;
  /** time generation through the device loop (lib/device_loop.ts; the graphs have next_ids),
   * with decode steps captured as device graphs on GPU EPs */
  loop?: boolean;
  /** the longest prefill one run takes (parallel-scan graphs on GPU EPs; undefined: any) */
  maxPrefill?: number;
}

export interface MeasureResult {
  latency: LatencyResult;
  scaling: { prompt: number; ttft: Summary }[];
  /** peak resident bytes of the process while the model was open */
  peakRssBytes: number;
  /** resident bytes before opening the model (the process's own baseline) */
  baseRssBytes: number;
  /** resident bytes right after opening the model */
  loadedRssBytes: number;
  kernels?: StepKernels;
  /** Whether the latency was timed through the device loop, and why not if it was asked for. */
  loop?: boolean;
  loopError?: string;
}

/** Runs one measurement in this process. */
export async function measureOne(s: MeasureSpec): Promise<MeasureResult> {
  resetPeakMemory();
  const baseRssBytes = residentMemory()?.current ?? Deno.memoryUsage().rss;
  const sampler = new RssSampler();
  const kernels = s.kernels ? await profileDecodeKernels(s.dir, s.config, s.ep) : undefined;
  const model = await openBenchModel(
    s.dir,
    { config: s.config, source: s.model, method: s.method },
    s.ep,
    { threads: s.threads, maxPrefill: s.maxPrefill ?? Infinity },
  );
  const loadedRssBytes = residentMemory()?.current ?? Deno.memoryUsage().rss;
  try {
    const bar = new Progress(
      `${s.model} ${s.method}${s.loop ? " (device loop)" : ""}`,
      s.warmup + s.repeats,
    );
    const o = {
      prompt: s.prompt,
      gen: s.gen,
      warmup: s.warmup,
      repeats: s.repeats,
      onRepeat: () => bar.tick(),
    };
    let loopError: string | undefined;
    let latency: LatencyResult | undefined;
    if (s.loop) {
      try {
        latency = await measureLoopLatency(s.dir, s.config, s.ep, {
          ...o,
          threads: s.threads,
          maxPrefill: s.maxPrefill,
        });
      } catch (e) {
        // a measurement without the loop is still a measurement: say why, and go on
        loopError = (e as Error).message;
        console.error(`  device loop failed (${loopError.split("\n")[0]}); timing without it`);
      }
    }
    latency ??= await measureLatency(model, o);
    bar.done();
    const scaling = s.scaling.length
      ? await measurePrefill(model, s.scaling, { warmup: 1, repeats: s.repeats })
      : [];
    const peakRssBytes = Math.max(sampler.stop(), residentMemory()?.peak ?? 0);
    return {
      latency,
      scaling,
      peakRssBytes,
      baseRssBytes,
      loadedRssBytes,
      kernels,
      loop: s.loop && !loopError,
      loopError,
    };
  } finally {
    sampler.stop();
    await model.close();
  }
}

const CHILD = fileURLToPath(new URL("./measure_child.ts", import.meta.url));

/** Runs one measurement in a fresh `deno run` process (progress on this process's stderr). */
export async function measureIsolated(s: MeasureSpec): Promise<MeasureResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...TASK_PERMISSIONS, CHILD],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(s)));
  await w.close();
  const { code, stdout } = await out.output();
  const text = new TextDecoder().decode(stdout).trim();
  if (code !== 0) throw new Error(`measurement of ${s.model} ${s.method} failed (exit ${code})`);
  return JSON.parse(text.split("\n").at(-1)!);
}
