/**
 * Display helpers for the notebooks (Deno's Jupyter kernel): values with a
 * `Symbol.for("Jupyter.display")` method render as rich output when they are a cell's last
 * expression or are passed to `Deno.jupyter.display`.
 *
 * @example
 * ```ts
 * import { showSvg, showTable } from "./mod.ts";
 * showTable(stats.scalars, { maxRows: 10, caption: "scalar statistics" }); // an HTML table
 * showSvg(absmaxHeatmap(stats)); // the figure, inline
 * ```
 * @module
 */
import type { Table } from "apache-arrow";
import { esc } from "../plots/svg.ts";

/** A MIME bundle, as Jupyter displays it. */
export type MimeBundle = Record<string, string>;

/** A value the Deno kernel renders with its MIME bundle. */
export interface Displayable {
  [key: symbol]: () => MimeBundle;
}

const DISPLAY = Symbol.for("Jupyter.display");

function displayable(bundle: () => MimeBundle, text: () => string): Displayable {
  return { [DISPLAY]: bundle, toString: text } as Displayable;
}

export interface TableOptions {
  /** rows shown (default 20); the rest are counted under the table */
  maxRows?: number;
  /** columns shown, in order (default all) */
  columns?: string[];
  /** a line above the table */
  caption?: string;
}

type Cell = string | number | boolean | bigint | null | undefined;

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3)
      ? v.toExponential(3)
      : String(Number(v.toPrecision(4)));
  }
  if (v instanceof Uint8Array || ArrayBuffer.isView(v)) return `[${(v as Uint8Array).length}]`;
  return String(v);
}

/**
 * An Arrow table, or an array of row objects, as a table that renders as HTML in a notebook
 * (and as aligned text elsewhere).
 *
 * @example
 * ```ts
 * showTable([{ layer: 0, absmax: 12.5 }, { layer: 1, absmax: 40 }]);
 * ```
 */
export function showTable(
  data: Table | Record<string, Cell>[],
  options: TableOptions = {},
): Displayable {
  const { maxRows = 20, caption } = options;
  const isArrow = !Array.isArray(data);
  const total = isArrow ? (data as Table).numRows : data.length;
  const shown: Record<string, unknown>[] = [];
  for (let i = 0; i < Math.min(total, maxRows); i++) {
    shown.push(isArrow ? (data as Table).get(i)!.toJSON() : (data as Record<string, Cell>[])[i]);
  }
  const columns = options.columns ??
    (isArrow
      ? (data as Table).schema.fields.map((f) => f.name)
      : [...new Set(shown.flatMap((r) => Object.keys(r)))]);
  const rows = shown.map((r) => columns.map((c) => cell(r[c])));
  const numeric = columns.map((_, j) => shown.every((r) => typeof r[columns[j]] !== "string"));
  const more = total > shown.length ? `… ${total - shown.length} more rows (${total} in all)` : "";
  const html = () => {
    const align = (j: number) => numeric[j] ? ' style="text-align:right"' : "";
    const head = columns.map((c, j) => `<th${align(j)}>${esc(c)}</th>`).join("");
    const body = rows.map((r) =>
      `<tr>${r.map((v, j) => `<td${align(j)}>${esc(v)}</td>`).join("")}</tr>`
    ).join("\n");
    return (caption ? `<p><b>${esc(caption)}</b></p>\n` : "") +
      `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>` +
      (more ? `\n<p><i>${esc(more)}</i></p>` : "");
  };
  const text = () => {
    const widths = columns.map((c, j) => Math.max(c.length, ...rows.map((r) => r[j].length)));
    const line = (r: string[]) =>
      r.map((v, j) => numeric[j] ? v.padStart(widths[j]) : v.padEnd(widths[j])).join("  ")
        .trimEnd();
    return [caption, line(columns), ...rows.map(line), more].filter(Boolean).join("\n");
  };
  return displayable(() => ({ "text/html": html(), "text/plain": text() }), text);
}

/**
 * An SVG document (a figure of lib/plots) that renders inline in a notebook.
 *
 * @example
 * ```ts
 * showSvg(channelOutliersPlot(stats, { layer: 3 }));
 * ```
 */
export function showSvg(svg: string, alt = "figure"): Displayable {
  const title = svg.match(/<text[^>]*font-weight="bold"[^>]*>([^<]*)<\/text>/)?.[1] ?? alt;
  const text = () => `[SVG ${title.replace(/&amp;/g, "&")}]`;
  return displayable(() => ({ "image/svg+xml": svg, "text/plain": text() }), text);
}

/**
 * Displays a value (a `showTable` or `showSvg` result, or anything the kernel renders) and then
 * waits `settleMs` (default 20 ms). Deno 2.9.6's kernel can publish a cell's idle status before
 * its output, and nbconvert/nbclient then record the cell without it: about 1 output in 25 under
 * `scripts/run_notebooks.sh` for a last expression or an un-waited `Deno.jupyter.display`, none
 * in 160 with this wait. Outside a notebook it prints the value's text form.
 *
 * @example
 * ```ts
 * await display(showSvg(absmaxHeatmap(stats)));
 * ```
 */
export async function display(value: unknown, settleMs = 20): Promise<void> {
  const jupyter = jupyterApi();
  if (!jupyter) {
    console.log(String(value));
    return;
  }
  await jupyter.display(value);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
}

function jupyterApi(): { display(value: unknown): Promise<void> } | undefined {
  try {
    return (Deno as unknown as { jupyter?: { display(value: unknown): Promise<void> } }).jupyter;
  } catch {
    return undefined;
  }
}
