/**
 * The tables of a reproduction folder, from its cell results (also those of every shard).
 */
import { join } from "node:path";
import { KitError } from "../errors.ts";
import { exists } from "../fsutil.ts";
import { writeReportHtml } from "../report_html/mod.ts";
import type { TaskResult } from "../eval/runner.ts";
import { type Cell, gridCells, modelName } from "./grid.ts";
import type { ReproduceConfig } from "./cells.ts";
import {
  accuracyDisplayRows,
  accuracyRows,
  latencyRows,
  markdownTable,
  readCells,
  writeTable,
} from "./tables.ts";
import { writeFileAtomic } from "../fsutil.ts";
import type { ComparisonSummary } from "../quality/compare.ts";
import { qualityGrid } from "./quality_cells.ts";
import type { AblationRow, SensitivityRow } from "../quality/sensitivity.ts";
import {
  ablationRows,
  klDisplayRows,
  klRows,
  positionRows,
  sensitivityRows,
  writeQualityTable,
} from "../quality/tables.ts";

/**
 * Writes the quality tables first (`tables/kl.*`: KL from fp32 with intervals, then
 * `kl_positions.*`, `sensitivity.*`, `ablation.*`), then `tables/accuracy.*` (with standard
 * errors and document counts) and `tables/latency.*` (Markdown, CSV, JSON, Arrow) and
 * `report.html` under `out`, and prints the tables; says which cells of the grid are still missing.
 *
 * @example
 * ```ts
 * await writeReport("reports/2026-11-29-embedded");
 * ```
 */
export async function writeReport(out: string): Promise<void> {
  const cfgFile = join(out, "config.json");
  if (!(await exists(cfgFile))) {
    throw new KitError(`${cfgFile}: not a reproduction folder (no config.json)`);
  }
  const cfg: ReproduceConfig = JSON.parse(await Deno.readTextFile(cfgFile));
  const cells = await readCells(out);
  const meta = {
    models: cfg.models.join(","),
    data: cfg.dataDir,
    limit: String(cfg.limit ?? "all"),
    calibration: cfg.calib,
    note:
      "accuracy columns: LAMBADA acc, HellaSwag acc_norm, PIQA acc, ARC-e acc, ARC-c acc_norm, " +
      "WinoGrande acc (0-shot, lm-eval rules); Avg over these six",
  };
  const tables = join(out, "tables");
  await writeQualityTables(tables, cells);
  const acc = accuracyRows(cells as { cell: Cell; result?: TaskResult }[], cfg.methods);
  const lat = latencyRows(cells, cfg.methods);
  const accMeta = {
    ...meta,
    note: meta.note + "; '±' columns: standard errors, 'n' columns: documents evaluated",
  };
  await writeTable(tables, "accuracy", acc, accMeta);
  await writeFileAtomic(join(tables, "accuracy.md"), markdownTable(accuracyDisplayRows(acc)));
  await writeTable(tables, "latency", lat, { ...meta, ep: cfg.ep });
  console.log(
    `\nAccuracy (${meta.note}; ± standard error; n: documents; perplexities: lower is better)\n`,
  );
  console.log(markdownTable(accuracyDisplayRows(acc)));
  console.log(
    `Latency on ${cfg.ep} (median ms; prompt ${cfg.latency.prompt}, generate ${cfg.latency.gen})\n`,
  );
  console.log(markdownTable(lat));
  const done = new Set(cells.map((c) => c.cell.id));
  const missing = gridCells(cfg.models, cfg.methods, cfg.tasks, qualityGrid(cfg)).filter((c) =>
    !done.has(c.id)
  );
  if (missing.length) {
    console.log(
      `${missing.length} cells not done yet (e.g. ${missing[0].id}); the tables leave them out`,
    );
  }
  console.log(`tables in ${join(out, "tables")}`);
  console.log(`report page: ${await writeReportHtml(out)}`);
}

/**
 * Writes tables/kl.*, kl_positions.*, sensitivity.* and ablation.* from the quality cells
 * (nothing when there are none) and prints the KL table.
 */
async function writeQualityTables(
  tables: string,
  cells: { cell: Cell; [k: string]: unknown }[],
): Promise<void> {
  const quality = cells.filter((c) => c.cell.kind === "quality" && c.comparison) as {
    cell: Cell;
    comparison: ComparisonSummary;
  }[];
  if (quality.length) {
    const first = quality[0].comparison;
    const meta = {
      reference: "fp32",
      text: first.text,
      interval: `${first.bootstrap.level * 100}% percentile bootstrap over windows of ` +
        `${first.window} tokens, ${first.bootstrap.resamples} draws, seed ${first.bootstrap.seed}`,
      note: "KL(fp32 ‖ method) per token over the full vocabulary, nats; top-1: share of " +
        "positions with fp32's top token; Δ log-ppl: mean NLL(method) − NLL(fp32)",
    };
    const rows = quality.flatMap((q) => klRows(q.comparison, modelName(q.cell.model)));
    const display = quality.flatMap((q) => klDisplayRows(q.comparison, modelName(q.cell.model)));
    await writeQualityTable(tables, "kl", rows, display, meta);
    const pos = quality.flatMap((q) => positionRows(q.comparison, modelName(q.cell.model)));
    await writeQualityTable(tables, "kl_positions", pos, pos, meta);
    console.log(
      `\nDistance from fp32 on held-out text (${first.tokens} tokens of ${first.text}; ` +
        `[95% interval], ${meta.interval})\n`,
    );
    console.log(markdownTable(display));
  }
  const sens = cells.filter((c) => c.cell.kind === "sensitivity" && c.sensitivity) as {
    cell: Cell;
    sensitivity: SensitivityRow[];
    ablation: AblationRow[];
  }[];
  if (sens.length) {
    const withModel = <T>(rows: T[], model: string) =>
      rows.map((r) => ({ model, ...(r as Record<string, string | number | null>) }));
    const s = sens.flatMap((c) =>
      withModel(sensitivityRows(c.sensitivity), modelName(c.cell.model))
    );
    const a = sens.flatMap((c) => withModel(ablationRows(c.ablation), modelName(c.cell.model)));
    const meta = { note: "mean KL(fp32 ‖ variant) per token with its 95% bootstrap interval" };
    await writeQualityTable(tables, "sensitivity", s, s, meta);
    await writeQualityTable(tables, "ablation", a, a, meta);
  }
}
