/**
 * The reproduction's quality cells, per model: `quality` compares every method with fp32 on
 * held-out text (KL, top-1 agreement, change in log-perplexity, by position), `sensitivity`
 * measures the KL each tensor adds alone and the percentile / Hadamard ablation. Each writes its
 * figures (figures/<model>/) and per-token values (quality/<model>/), and returns the rows that
 * the tables are made from.
 */
import { join } from "node:path";
import { readModelConfig } from "../arch/registry.ts";
import { openCheckpoint } from "../checkpoint.ts";
import { KitError } from "../errors.ts";
import { loadTokenizer } from "../tokenizer.ts";
import { DEFAULT_HELDOUT } from "../paths.ts";
import { compareMethods } from "../quality/compare.ts";
import { comparisonSummary, writeComparison, writeSensitivity } from "../quality/report.ts";
import { percentileAblation, sensitivity } from "../quality/sensitivity.ts";
import { readStats } from "../stats/collect.ts";
import { statsFromTables } from "../stats/view.ts";
import { openGridModel, type ReproduceConfig } from "./cells.ts";
import { modelName } from "./grid.ts";

/** What the quality cells score (recorded in config.json). */
export interface QualityConfig {
  /** Held-out text file. */
  text: string;
  /** Tokens per method (0: no quality cells) and per window. */
  tokens: number;
  window: number;
  /** Tokens per sensitivity variant (0: no sensitivity cell) and per window. */
  sensitivityTokens: number;
  sensitivityWindow: number;
}

/**
 * The defaults: 8192 tokens of The Time Machine per method; 1024 per sensitivity variant, in 16
 * windows of 64 (88 variants: what keeps the whole reproduction within its 10 minutes on 2
 * cores; `deno task compare --sensitivity` scores 4096 per variant).
 */
export const QUALITY_DEFAULTS: QualityConfig = {
  text: DEFAULT_HELDOUT,
  tokens: 8192,
  window: 256,
  sensitivityTokens: 1024,
  sensitivityWindow: 64,
};

async function heldoutIds(cfg: ReproduceConfig, model: string): Promise<number[]> {
  const q = cfg.quality ?? QUALITY_DEFAULTS;
  return (await loadTokenizer(model)).encode(await Deno.readTextFile(q.text));
}

/** Compares the grid's methods (all but fp32, the reference) with fp32. */
export async function qualityCell(
  cfg: ReproduceConfig,
  model: string,
): Promise<Record<string, unknown>> {
  const q = cfg.quality ?? QUALITY_DEFAULTS;
  const methods = cfg.methods.filter((m) => m !== "fp32");
  const c = await compareMethods(model, methods, {
    ids: await heldoutIds(cfg, model),
    text: q.text,
    tokens: q.tokens,
    window: q.window,
    ep: cfg.ep,
    threads: cfg.threads,
    open: (method) => openGridModel(cfg, model, method),
  });
  const name = modelName(model);
  await writeComparison(c, {
    tables: join(cfg.out, "quality", name),
    figures: join(cfg.out, "figures", name),
  }, name);
  return { comparison: comparisonSummary(c) };
}

/** Per-tensor sensitivity and the ablation, from the statistics cell's tables. */
export async function sensitivityCell(
  cfg: ReproduceConfig,
  model: string,
): Promise<Record<string, unknown>> {
  const q = cfg.quality ?? QUALITY_DEFAULTS;
  const name = modelName(model);
  const { model_type } = await readModelConfig(model);
  if (model_type === "mamba2") {
    // the map perturbs Quamba's points one at a time (Mamba-1 mixers, Jamba's blocks)
    return {
      skipped: "the per-tensor sensitivity map covers Quamba's quantization points of Mamba-1 " +
        "and Jamba; Mamba-2's recipes are compared in the KL table",
    };
  }
  const statsDir = join(cfg.out, "stats", name);
  let stats;
  try {
    stats = await readStats(statsDir).then((t) => statsFromTables(t.scalars, t.channels));
  } catch (e) {
    throw new KitError(
      `${statsDir}: the sensitivity cell needs the statistics cell's tables: ${e}`,
    );
  }
  const workDir = await Deno.makeTempDir({ prefix: "quamba-variants-" });
  try {
    const src = {
      ckpt: await openCheckpoint(model),
      stats,
      workDir,
      ep: cfg.ep,
      threads: cfg.threads,
    };
    const run = {
      ids: await heldoutIds(cfg, model),
      tokens: q.sensitivityTokens,
      window: q.sensitivityWindow,
      percentile: cfg.percentile,
    };
    const rows = await sensitivity(src, run);
    const ablation = await percentileAblation(src, run);
    const note = `${q.sensitivityTokens} held-out tokens per variant in windows of ` +
      `${q.sensitivityWindow}; B and C are quantized with the scale they share with dt_low.`;
    await writeSensitivity({ sensitivity: rows, ablation }, {
      tables: join(cfg.out, "quality", name),
      figures: join(cfg.out, "figures", name),
    }, note);
    return { sensitivity: rows, ablation };
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
}

/** Which quality cells a run's grid has (gridCells's options). */
export function qualityGrid(cfg: ReproduceConfig): { quality: boolean; sensitivity: boolean } {
  const q = cfg.quality ?? QUALITY_DEFAULTS;
  return { quality: q.tokens > 0, sensitivity: q.sensitivityTokens > 0 };
}
