/**
 * Running one cell of the reproduction grid and saving its result (`cells/<id>.json`, written
 * atomically after everything else the cell writes, so a killed run redoes at most the cell it
 * was in).
 */
import { join } from "node:path";
import { loadCalibration } from "../calibration.ts";
import { archOfConfig, type ModelConfig, readModelConfig } from "../arch/registry.ts";
import { stateBytes as stateBytesOf } from "../bench/memory.ts";
import { openCheckpoint } from "../checkpoint.ts";
import { methodSpec } from "../quant/methods.ts";
import { isBlockPoint, isMixerParam, projectionInput } from "../quant/points.ts";
import { EvalCache, modelKey } from "../eval/cache.ts";
import { evaluateTask } from "../eval/runner.ts";
import { getTask } from "../eval/tasks/index.ts";
import { exists, writeFileAtomic } from "../fsutil.ts";
import { type Dtype, loadModel, type Model } from "../model.ts";
import { allFigures, readStatsTables, svgToPng } from "../plots/mod.ts";
import { loadQuantized, quantize } from "../quant/quantize.ts";
import type { Ep } from "../runtime.ts";
import { collectStats, readStats, writeStats } from "../stats/collect.ts";
import { statsFromTables } from "../stats/view.ts";
import { summarize, timeit } from "../stats_time.ts";
import { loadTokenizer } from "../tokenizer.ts";
import { type Cell, modelName } from "./grid.ts";
import { ABLATION_PERCENTILES } from "../quality/sensitivity.ts";
import { qualityCell, type QualityConfig, sensitivityCell } from "./quality_cells.ts";

/** What a reproduction runs with (recorded in config.json). */
export interface ReproduceConfig {
  out: string;
  models: string[];
  methods: string[];
  tasks: string[];
  /** Task files (the layout of ../shared/data) */
  dataDir: string;
  limit?: number;
  calib: string;
  samples: number;
  maxLen: number;
  percentile: number;
  ep: Ep;
  threads?: number;
  latency: { prompt: number; gen: number; warmup: number; repeats: number };
  /** The quality cells' held-out text and token counts (default QUALITY_DEFAULTS). */
  quality?: QualityConfig;
}

/** Where a cell's result goes. */
export function cellFile(out: string, cell: Cell): string {
  return join(out, "cells", `${cell.id}.json`);
}

/** The folder of a quantized model of the grid. */
export function quantizedDir(cfg: ReproduceConfig, model: string, method: string): string {
  return join(cfg.out, "models", modelName(model), method);
}

/** Opens a model of the grid at a method, quantizing it first if its folder is missing. */
export async function openGridModel(
  cfg: ReproduceConfig,
  model: string,
  method: string,
): Promise<Model> {
  if (method === "fp32" || method === "fp16") {
    return await loadModel(model, { dtype: method as Dtype, ep: cfg.ep, threads: cfg.threads });
  }
  const dir = quantizedDir(cfg, model, method);
  if (await exists(join(dir, "manifest.json"))) {
    return await loadQuantized(dir, { ep: cfg.ep, threads: cfg.threads });
  }
  // the statistics cell's tables calibrate every method (no second pass over the calibration text)
  const statsDir = join(cfg.out, "stats", modelName(model));
  const stats = await exists(join(statsDir, "channels.arrow"))
    ? await readStats(statsDir).then((t) => statsFromTables(t.scalars, t.channels))
    : undefined;
  return await quantize(model, {
    stats,
    method,
    calibration: cfg.calib,
    samples: cfg.samples,
    maxLen: cfg.maxLen,
    percentile: await gridPercentile(cfg, model),
    out: dir,
    ep: cfg.ep,
    threads: cfg.threads,
  });
}

/** Bytes of a model's weights at a method: int8 for the quantized tensors, float for the rest. */
export function weightBytes(config: ModelConfig, method: string): number {
  const spec = method === "fp32" || method === "fp16" ? undefined : methodSpec(method);
  let bytes = 0;
  for (const [name, shape] of archOfConfig(config).expectedTensors(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const point = projectionInput(name.replace(/\.weight$/, ""));
    const quantized = spec !== undefined &&
      (isMixerParam(name) ||
        (point !== undefined && name.endsWith(".weight") &&
          !(spec.floatBlocks && isBlockPoint(point))));
    bytes += n * (quantized ? 1 : method === "fp16" ? 2 : 4);
  }
  return bytes;
}

/**
 * Quamba's percentile of u for a model of the grid: the run's (99.999) for Mamba, the authors'
 * for other architectures (Jamba: 99.9).
 */
async function gridPercentile(cfg: ReproduceConfig, model: string): Promise<number> {
  const config = await readModelConfig(model);
  return config.model_type === "mamba" ? cfg.percentile : archOfConfig(config).quambaPercentile;
}

/** Runs one cell and writes its result file; returns the result. */
export async function runCell(cfg: ReproduceConfig, cell: Cell): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  let result: Record<string, unknown>;
  switch (cell.kind) {
    case "stats":
      result = await statsCell(cfg, cell.model);
      break;
    case "quantize": {
      const m = await openGridModel(cfg, cell.model, cell.method!);
      result = { dir: quantizedDir(cfg, cell.model, cell.method!) };
      await m.close();
      break;
    }
    case "eval":
      result = await evalCell(cfg, cell);
      break;
    case "latency":
      result = await latencyCell(cfg, cell);
      break;
    case "quality":
      result = await qualityCell(cfg, cell.model);
      break;
    case "sensitivity":
      result = await sensitivityCell(cfg, cell.model);
      break;
  }
  result = { cell, ...result, seconds: (performance.now() - t0) / 1000 };
  await writeFileAtomic(cellFile(cfg.out, cell), JSON.stringify(result, null, 1) + "\n");
  return result;
}

async function statsCell(cfg: ReproduceConfig, model: string): Promise<Record<string, unknown>> {
  const ckpt = await openCheckpoint(model);
  const calib = await loadCalibration(cfg.calib, await loadTokenizer(ckpt.dir), {
    samples: cfg.samples,
    maxLen: cfg.maxLen,
  });
  const dir = join(cfg.out, "stats", modelName(model));
  // Quamba's percentile of the architecture, and every percentile of the ablation (the
  // sensitivity cell's)
  const emaPercentiles = [
    ...new Set([99.999, await gridPercentile(cfg, model), ...ABLATION_PERCENTILES]),
  ];
  await writeStats(
    dir,
    await collectStats(ckpt, calib, { ep: cfg.ep, threads: cfg.threads, emaPercentiles }),
  );
  const figures = join(cfg.out, "figures", modelName(model));
  const written: string[] = [];
  for (const f of allFigures(await readStatsTables(dir))) {
    await writeFileAtomic(join(figures, `${f.name}.svg`), f.svg);
    await writeFileAtomic(join(figures, `${f.name}.png`), svgToPng(f.svg));
    written.push(f.name);
  }
  return {
    stats: dir,
    figures: written.map((n) => join(figures, n)),
    samples: calib.samples.length,
  };
}

async function evalCell(cfg: ReproduceConfig, cell: Cell): Promise<Record<string, unknown>> {
  const model = await openGridModel(cfg, cell.model, cell.method!);
  try {
    const key = await modelKey(
      cell.model,
      `${cell.method}@${cfg.calib}:${cfg.samples}:${await gridPercentile(cfg, cell.model)}`,
      cfg.ep,
    );
    const r = await evaluateTask(model, getTask(cell.task!), {
      dataDir: cfg.dataDir,
      limit: cfg.limit,
      cache: new EvalCache(key, join(cfg.out, "cache")),
    });
    return { result: r };
  } finally {
    await model.close();
  }
}

async function latencyCell(cfg: ReproduceConfig, cell: Cell): Promise<Record<string, unknown>> {
  const model = await openGridModel(cfg, cell.model, cell.method!);
  try {
    const { prompt, gen, warmup, repeats } = cfg.latency;
    const v = model.config.vocab_size;
    const ids = Array.from({ length: prompt }, (_, i) => (i * 7919 + 11) % v);
    const ttft = summarize(await timeit(() => model.prefill([ids]), warmup, repeats));
    const { state } = await model.prefill([ids]);
    const tpot = summarize(
      (await timeit(
        async () => {
          let s = state;
          for (let t = 0; t < gen; t++) s = (await model.decode([ids[t % prompt]], s)).state;
        },
        warmup,
        repeats,
      )).map((ms) => ms / gen),
    );
    const ttlt = summarize(
      await timeit(() => model.generate(ids, { maxNewTokens: gen }), warmup, repeats),
    );
    const c = model.config;
    const stateBytes = stateBytesOf(c, 1, prompt + gen);
    return {
      ms: { ttft, tpot, ttlt },
      prompt,
      gen,
      weights_mb: weightBytes(c, cell.method!) / 2 ** 20,
      state_mb: stateBytes / 2 ** 20,
      rss_mb: Deno.memoryUsage().rss / 2 ** 20,
    };
  } finally {
    await model.close();
  }
}
