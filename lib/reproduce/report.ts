/**
 * The tables of a reproduction folder, from its cell results (also those of every shard).
 */
import { join } from "node:path";
import { KitError } from "../errors.ts";
import { exists } from "../fsutil.ts";
import { writeReportHtml } from "../report_html/mod.ts";
import type { TaskResult } from "../eval/runner.ts";
import { type Cell, gridCells } from "./grid.ts";
import type { ReproduceConfig } from "./cells.ts";
import { accuracyRows, latencyRows, markdownTable, readCells, writeTable } from "./tables.ts";

/**
 * Writes `tables/accuracy.*` and `tables/latency.*` (Markdown, CSV, JSON, Arrow) and
 * `report.html` under `out` and prints the tables; says which cells of the grid are still missing.
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
  const acc = accuracyRows(cells as { cell: Cell; result?: TaskResult }[], cfg.methods);
  const lat = latencyRows(cells, cfg.methods);
  await writeTable(join(out, "tables"), "accuracy", acc, meta);
  await writeTable(join(out, "tables"), "latency", lat, { ...meta, ep: cfg.ep });
  console.log(`\nAccuracy (${meta.note}; perplexities: lower is better)\n`);
  console.log(markdownTable(acc));
  console.log(
    `Latency on ${cfg.ep} (median ms; prompt ${cfg.latency.prompt}, generate ${cfg.latency.gen})\n`,
  );
  console.log(markdownTable(lat));
  const done = new Set(cells.map((c) => c.cell.id));
  const missing = gridCells(cfg.models, cfg.methods, cfg.tasks).filter((c) => !done.has(c.id));
  if (missing.length) {
    console.log(
      `${missing.length} cells not done yet (e.g. ${missing[0].id}); the tables leave them out`,
    );
  }
  console.log(`tables in ${join(out, "tables")}`);
  console.log(`report page: ${await writeReportHtml(out)}`);
}
