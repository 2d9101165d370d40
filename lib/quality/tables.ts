/**
 * The quality results as tables: one row per method (KL statistics, top-1 agreement, change in
 * log-perplexity, each with its interval), per (method, position bucket), per sensitivity cell
 * and per ablation point; Markdown with `value [lo, hi]` cells, CSV / JSON / Arrow with numeric
 * `_lo` / `_hi` columns.
 */
import { join } from "node:path";
import { tableFromArrays } from "apache-arrow";
import { writeArrowFile } from "../arrow.ts";
import { writeFileAtomic } from "../fsutil.ts";
import { markdownTable, writeTable } from "../reproduce/tables.ts";
import { type Estimate, estimateText } from "./bootstrap.ts";

export { estimateText };
import { type Comparison, type ComparisonSummary, KL_STATISTICS } from "./compare.ts";
import type { AblationRow, SensitivityRow } from "./sensitivity.ts";

type Row = Record<string, string | number | null>;

/** Adds `name`, `name_lo`, `name_hi` to a numeric row. */
function put(row: Row, name: string, e: Estimate): void {
  row[name] = e.value;
  row[`${name}_lo`] = e.lo;
  row[`${name}_hi`] = e.hi;
}

/**
 * One numeric row per method (what kl.csv / .json / .arrow hold).
 *
 * @example
 * ```ts
 * klRows(comparison, "embedded")[0].kl_mean_lo;
 * ```
 */
export function klRows(c: ComparisonSummary, model = ""): Row[] {
  return c.methods.map((m) => {
    const row: Row = { model, method: m.method };
    for (const s of KL_STATISTICS) put(row, `kl_${s}`, m.kl[s]);
    put(row, "top1", m.top1);
    put(row, "nll_delta", m.nllDelta);
    put(row, "ppl_ratio", m.pplRatio);
    row.tokens = c.tokens;
    row.windows = c.windows;
    return row;
  });
}

/**
 * The same rows for reading: `value [lo, hi]` cells (kl.md).
 *
 * @example
 * ```ts
 * console.log(markdownTable(klDisplayRows(comparison)));
 * ```
 */
export function klDisplayRows(c: ComparisonSummary, model?: string): Row[] {
  return c.methods.map((m) => ({
    ...(model ? { model } : {}),
    method: m.method,
    "KL mean": estimateText(m.kl.mean),
    "KL median": estimateText(m.kl.median),
    "KL p90": estimateText(m.kl.p90),
    "KL p99": estimateText(m.kl.p99),
    "KL max": estimateText(m.kl.max),
    "top-1 agree %": estimateText(m.top1, 100),
    "Δ log-ppl (nats)": estimateText(m.nllDelta),
    "tokens (windows)": `${c.tokens} (${c.windows})`,
  }));
}

/**
 * One numeric row per (method, position bucket).
 *
 * @example
 * ```ts
 * positionRows(comparison).filter((r) => r.method === "quamba");
 * ```
 */
export function positionRows(c: ComparisonSummary, model = ""): Row[] {
  return c.methods.flatMap((m) =>
    m.byPosition.map((b) => {
      const row: Row = { model, method: m.method, from: b.from, to: b.to, tokens: b.tokens };
      put(row, "kl_mean", b.kl);
      put(row, "top1", b.top1);
      return row;
    })
  );
}

/**
 * One numeric row per sensitivity cell.
 *
 * @example
 * ```ts
 * sensitivityRows(await sensitivity(src, { ids }));
 * ```
 */
export function sensitivityRows(rows: SensitivityRow[]): Row[] {
  return rows.map((r) => {
    const row: Row = { layer: r.layer, group: r.group, method: r.method };
    put(row, "kl_mean", r.kl);
    put(row, "kl_p99", r.klP99);
    put(row, "top1", r.top1);
    put(row, "nll_delta", r.nllDelta);
    return row;
  });
}

/**
 * One numeric row per ablation point.
 *
 * @example
 * ```ts
 * ablationRows(await percentileAblation(src, { ids }));
 * ```
 */
export function ablationRows(rows: AblationRow[]): Row[] {
  return rows.map((r) => {
    const row: Row = {
      method: r.method,
      percentile: r.percentile === "absmax" ? "absmax" : String(r.percentile),
      hadamard: r.hadamard ? "yes" : "no",
    };
    put(row, "kl_mean", r.kl);
    put(row, "top1", r.top1);
    put(row, "nll_delta", r.nllDelta);
    return row;
  });
}

/**
 * Writes `<name>.{csv,json,arrow}` from numeric rows and `<name>.md` from display rows.
 *
 * @example
 * ```ts
 * await writeQualityTable("out", "kl", klRows(c), klDisplayRows(c), { model: "embedded" });
 * ```
 */
export async function writeQualityTable(
  dir: string,
  name: string,
  rows: Row[],
  display: Row[],
  metadata: Record<string, string>,
): Promise<void> {
  await writeTable(dir, name, rows, metadata); // its .md is replaced by the readable one below
  await writeFileAtomic(join(dir, `${name}.md`), markdownTable(display));
}

/**
 * Per-token values of every method (method, window, position, kl, top1, nll_delta).
 *
 * @example
 * ```ts
 * await writeTokenTable("out/kl_tokens.arrow", comparison);
 * ```
 */
export async function writeTokenTable(path: string, c: Comparison): Promise<void> {
  const n = c.tokens, M = c.methods.length;
  const method: string[] = [], win = new Int32Array(n * M), pos = new Int32Array(n * M);
  const kl = new Float64Array(n * M), top1 = new Uint8Array(n * M), nll = new Float64Array(n * M);
  c.methods.forEach((m, j) => {
    for (let k = 0; k < n; k++) {
      const i = j * n + k;
      method.push(m.method);
      win[i] = Math.floor(k / c.window);
      pos[i] = k % c.window;
    }
    kl.set(m.perToken.kl, j * n);
    top1.set(m.perToken.top1, j * n);
    nll.set(m.perToken.nllDelta, j * n);
  });
  await writeArrowFile(
    path,
    tableFromArrays({ method, window: win, position: pos, kl, top1, nll_delta: nll }),
    { source: c.source, text: c.text, reference: c.reference },
  );
}
