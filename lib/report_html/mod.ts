/**
 * report.html: one self-contained page per reproduction folder, with the accuracy and latency
 * tables, what each column measures, the run's configuration and environment, and interactive
 * Observable Plot figures (outliers before and after clipping and rotation, accuracy per method,
 * latency against size), drawn in the browser from data embedded in the page. Plot itself is
 * inlined, so the file opens without a network and can be shared as it is.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../fsutil.ts";
import { reportAssets } from "./assets.ts";
import { reportData } from "./data.ts";
import { reportHtml } from "./html.ts";

export { plotVersion, reportAssets } from "./assets.ts";
export { type ModelStats, modelStats, type ReportData, reportData } from "./data.ts";
export { escapeHtml, htmlTable, reportHtml, scriptJson } from "./html.ts";

/**
 * Writes `<out>/report.html` (atomically) from a reproduction folder whose tables have been
 * written (`writeReport` does both); returns its path.
 *
 * @example
 * ```ts
 * const path = await writeReportHtml("reports/2026-11-29-embedded");
 * console.log(`open ${path}`);
 * ```
 */
export async function writeReportHtml(out: string): Promise<string> {
  const path = join(out, "report.html");
  await writeFileAtomic(path, reportHtml(await reportData(out), await reportAssets()));
  return path;
}
