/**
 * Quick latency of fp32 vs int8 models (notebooks/04_latency.ipynb): time to first token
 * (TTFT: one prefill of the prompt) and time per output token (TPOT: the mean of greedy decode
 * steps), as medians of a few repeats. Models: a checkpoint (the embedded model), fp32 or
 * quantized with a method, or a Mamba family shape with seeded random weights (speed does not
 * depend on the values; int8 activation scales are then fixed, as in lib/bench/graphs.ts).
 *
 * @example
 * ```ts
 * const rows = await latencyTable([{ model: EMBEDDED_MODEL, methods: ["fp32", "quamba"] }]);
 * ```
 * @module
 */
import { benchCacheDir, ensureBenchGraphs } from "../bench/graphs.ts";
import { basename } from "node:path";
import { cacheRoot } from "../cache.ts";
import { loadModel, type Model, OnnxModel } from "../model.ts";
import { Progress } from "../progress.ts";
import { quantize } from "../quant/quantize.ts";
import { summarize, timeit } from "../stats_time.ts";
import { MAMBA_SHAPES, shapeConfig, syntheticWeights } from "../synthetic.ts";
import { missingTokenizer } from "../tokenizer.ts";

/** How long to measure. */
export interface LatencyOptions {
  /** prompt tokens (default 128) */
  prompt?: number;
  /** decode steps per timed run (default 16) */
  gen?: number;
  /** untimed runs, then timed ones (defaults 1 and 3) */
  warmup?: number;
  repeats?: number;
}

/** Median and 90th percentile (ms) of TTFT and TPOT. */
export interface Latency {
  ttft: { median: number; p90: number; n: number };
  tpot: { median: number; p90: number; n: number };
}

/**
 * TTFT (prefill of `prompt` tokens) and TPOT (decode steps after it, per token) of a model.
 *
 * @example
 * ```ts
 * const { ttft, tpot } = await measureLatency(model, { prompt: 128, gen: 16 });
 * ```
 */
export async function measureLatency(model: Model, options: LatencyOptions = {}): Promise<Latency> {
  const { prompt = 128, gen = 16, warmup = 1, repeats = 3 } = options;
  const v = model.config.vocab_size;
  const ids = Array.from({ length: prompt }, (_, i) => (i * 7919 + 11) % v);
  const ttft = summarize(await timeit(() => model.prefill([ids]), warmup, repeats));
  const { state } = await model.prefill([ids]);
  const runs = await timeit(
    async () => {
      let s = state;
      for (let t = 0; t < gen; t++) s = (await model.decode([ids[t % prompt]], s)).state;
    },
    warmup,
    repeats,
  );
  const tpot = summarize(runs.map((ms) => ms / gen));
  return {
    ttft: { median: ttft.median, p90: ttft.p90, n: ttft.n },
    tpot: { median: tpot.median, p90: tpot.p90, n: tpot.n },
  };
}

/**
 * A model of a Mamba family shape (`mamba-130m` …) with seeded random weights, fp32 or int8 with
 * an int8 method's graph (fixed activation scales), built into the kit's cache once.
 *
 * @example
 * ```ts
 * const m = await syntheticModel("mamba-130m", "quamba");
 * ```
 */
export async function syntheticModel(
  shape: string,
  method: string,
  options: { cacheDir?: string } = {},
): Promise<Model> {
  const cfg = shapeConfig(shape), src = syntheticWeights(cfg);
  // the latency harness's graphs (lib/bench/graphs.ts), all positions' logits as Model.logits wants
  const variant = { lastLogits: false };
  const dir = benchCacheDir(shape, method, variant, options.cacheDir ?? cacheRoot());
  await ensureBenchGraphs(dir, cfg, src, method, shape, variant);
  return await OnnxModel.open(
    dir,
    { config: cfg, tokenizer: missingTokenizer(dir), source: `synthetic ${shape}`, method },
    "cpu",
  );
}

/** What to measure: a checkpoint folder or a family shape name, with its methods. */
export interface LatencyTarget {
  model: string;
  methods: string[];
}

/** A row of the latency table. */
export interface LatencyTableRow {
  model: string;
  method: string;
  prompt: number;
  gen: number;
  "TTFT ms": number;
  "TPOT ms": number;
  "TTFT p90 ms": number;
  "TPOT p90 ms": number;
  [k: string]: string | number;
}

/**
 * Measures every (target, method) on the CPU EP, with a progress line per measurement. A
 * checkpoint's int8 methods are quantized (`calibrationSamples` samples, default 32; cached).
 *
 * @example
 * ```ts
 * const rows = await latencyTable([
 *   { model: EMBEDDED_MODEL, methods: ["fp32", "quamba"] },
 *   { model: "mamba-130m", methods: ["fp32", "quamba"] },
 * ], { prompt: 128, gen: 16 });
 * ```
 */
export async function latencyTable(
  targets: LatencyTarget[],
  options: LatencyOptions & {
    calibrationSamples?: number;
    cacheDir?: string;
    /** a progress line per measurement on stderr (default true) */
    progress?: boolean;
  } = {},
): Promise<LatencyTableRow[]> {
  const { prompt = 128, gen = 16 } = options;
  const total = targets.reduce((a, t) => a + t.methods.length, 0);
  const bar = options.progress === false ? undefined : new Progress("latency", total, { every: 2 });
  const rows: LatencyTableRow[] = [];
  for (const target of targets) {
    const synthetic = target.model in MAMBA_SHAPES;
    for (const method of target.methods) {
      let model: Model;
      if (synthetic) {
        model = await syntheticModel(target.model, method, { cacheDir: options.cacheDir });
      } else if (method === "fp32" || method === "fp16") {
        model = await loadModel(target.model, { dtype: method, cacheDir: options.cacheDir });
      } else {
        model = await quantize(target.model, {
          method,
          samples: options.calibrationSamples ?? 32,
          cacheDir: options.cacheDir,
          progress: options.progress,
        });
      }
      try {
        const l = await measureLatency(model, options);
        rows.push({
          model: synthetic ? `${target.model} (random weights)` : basename(target.model),
          method,
          prompt,
          gen,
          "TTFT ms": l.ttft.median,
          "TPOT ms": l.tpot.median,
          "TTFT p90 ms": l.ttft.p90,
          "TPOT p90 ms": l.tpot.p90,
        });
      } finally {
        await model.close();
      }
      bar?.tick(1, `${synthetic ? target.model : basename(target.model)} ${method}`);
    }
  }
  bar?.done();
  return rows;
}
