/**
 * Reading the activation statistics tables (lib/stats/schema.ts) for the figures: the three
 * tables of a stats folder, checked for their columns, and their rows as plain objects.
 */
import type { Table } from "apache-arrow";
import { tableMetadata } from "../arrow.ts";
import { KitError } from "../errors.ts";

export {
  checkColumns,
  readStatsTables,
  type StatsTables,
  TABLE_COLUMNS,
  type TableName,
} from "../stats/io.ts";
import { checkColumns, TABLE_COLUMNS, type TableName } from "../stats/io.ts";

export interface ScalarRow {
  layer: number;
  tensor: string;
  statistic: string;
  value: number;
}
export interface ChannelRow {
  layer: number;
  tensor: string;
  channel: number;
  absmax: number;
}
export interface HistogramRow {
  layer: number;
  tensor: string;
  lo: number;
  hi: number;
  count: number;
}

/** Rows of a table as plain objects, optionally only those of one layer. */
function rows<R>(table: Table, which: { name: TableName; layer?: number }): R[] {
  const { name, layer } = which;
  checkColumns(table, name);
  const cols = TABLE_COLUMNS[name].map((c) => [c, table.getChild(c)!] as const);
  const layers = table.getChild("layer")!;
  const out: R[] = [];
  for (let i = 0; i < table.numRows; i++) {
    if (layer !== undefined && Number(layers.get(i)) !== layer) continue;
    const r: Record<string, unknown> = {};
    for (const [c, v] of cols) {
      const x = v.get(i);
      r[c] = typeof x === "bigint" ? Number(x) : x;
    }
    out.push(r as R);
  }
  return out;
}

/**
 * The scalar statistics (absmax, percentiles, ...) as rows.
 *
 * @example
 * ```ts
 * const uMax = scalarRows(stats.scalars).filter((r) => r.tensor === "u" && r.statistic === "absmax");
 * ```
 */
export function scalarRows(table: Table): ScalarRow[] {
  return rows<ScalarRow>(table, { name: "scalars" });
}

/**
 * The per-channel absmax rows, of one layer or all.
 *
 * @example
 * ```ts
 * const y3 = channelRows(stats.channels, 3).filter((r) => r.tensor === "y");
 * ```
 */
export function channelRows(table: Table, layer?: number): ChannelRow[] {
  return rows<ChannelRow>(table, { name: "channels", layer });
}

/**
 * The histogram rows, of one layer or all (exact zeros have lo = hi = 0).
 *
 * @example
 * ```ts
 * const bins = histogramRows(stats.histograms, 0).filter((r) => r.tensor === "u" && r.lo > 0);
 * ```
 */
export function histogramRows(table: Table, layer?: number): HistogramRow[] {
  return rows<HistogramRow>(table, { name: "histograms", layer });
}

/**
 * The sorted layer indices present in a table.
 *
 * @example
 * ```ts
 * layersOf(stats.scalars, "scalars"); // [0, 1, 2, 3]
 * ```
 */
export function layersOf(table: Table, name: TableName): number[] {
  checkColumns(table, name);
  const seen = new Set<number>();
  const v = table.getChild("layer")!;
  for (let i = 0; i < table.numRows; i++) seen.add(Number(v.get(i)));
  return [...seen].sort((a, b) => a - b);
}

/**
 * Checks that `layer` is in the table; the error lists the layers there are.
 *
 * @example
 * ```ts
 * checkLayer(stats.channels, { name: "channels", layer: 7 });
 * // KitError: channels table: no rows for layer 7 (layers 0–3)
 * ```
 */
export function checkLayer(table: Table, which: { name: TableName; layer: number }): void {
  const { name, layer } = which;
  const layers = layersOf(table, name);
  if (!layers.includes(layer)) {
    const range = layers.length ? `layers ${layers[0]}–${layers.at(-1)}` : "no rows";
    throw new KitError(`${name} table: no rows for layer ${layer} (${range})`);
  }
}

/**
 * The layer the single-layer figures show by default: the one where `y` (the out_proj input) has
 * the largest absmax relative to its p99, i.e. the most outlier-dominated.
 *
 * @example
 * ```ts
 * const layer = defaultLayer(stats.scalars);
 * ```
 */
export function defaultLayer(scalars: Table): number {
  const by = new Map<number, { absmax?: number; p99?: number }>();
  for (const r of scalarRows(scalars)) {
    if (r.tensor !== "y" || (r.statistic !== "absmax" && r.statistic !== "p99")) continue;
    const e = by.get(r.layer) ?? {};
    e[r.statistic] = r.value;
    by.set(r.layer, e);
  }
  let best = -1, bestRatio = -Infinity;
  for (const [layer, { absmax, p99 }] of by) {
    const ratio = absmax !== undefined && p99 ? absmax / p99 : -Infinity;
    if (ratio > bestRatio || best < 0) [best, bestRatio] = [layer, ratio];
  }
  if (best < 0) throw new KitError("scalars table: no 'absmax' rows for tensor 'y'");
  return best;
}

/**
 * A short description of where the statistics come from, from the schema metadata.
 *
 * @example
 * ```ts
 * describeSource(stats.scalars); // "model mamba-130m-hf, 262144 tokens, 512 samples"
 * ```
 */
export function describeSource(table: Table): string {
  const m = tableMetadata(table);
  const parts = [m.model ? `model ${m.model}` : "", m.tokens ? `${m.tokens} tokens` : ""];
  if (m.samples) parts.push(`${m.samples} samples`);
  return parts.filter(Boolean).join(", ");
}

/**
 * Formats a number for a label: 3 significant digits, no exponent for 0.001 to 99999.
 *
 * @example
 * ```ts
 * fmt(63.5912); // "63.6"
 * fmt(2.5e-5); // "2.50e-5"
 * ```
 */
export function fmt(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(2);
  return Number(x.toPrecision(3)).toString();
}

/**
 * Tick labels for log axes that span many decades: powers of ten only, 0.01 to 1000 as plain
 * numbers and others as 10⁻⁵, 10⁶; "" for the ticks between powers of ten.
 *
 * @example
 * ```ts
 * [1e-5, 2e-5, 0.1, 1e6].map(pow10Label); // ["10⁻⁵", "", "0.1", "10⁶"]
 * ```
 */
export function pow10Label(v: number): string {
  const e = Math.log10(v);
  if (Math.abs(e - Math.round(e)) > 1e-9) return "";
  const r = Math.round(e);
  if (r >= -2 && r <= 3) return String(Number((10 ** r).toPrecision(1)));
  const sup = "⁰¹²³⁴⁵⁶⁷⁸⁹";
  return "10" + (r < 0 ? "⁻" : "") + String(Math.abs(r)).split("").map((c) => sup[+c]).join("");
}

/**
 * Ticks on a 1-2-5 sequence within `domain`, for log axes that span a few decades.
 *
 * @example
 * ```ts
 * logTicks([1.5, 60]); // [2, 5, 10, 20, 50]
 * ```
 */
export function logTicks(domain: [number, number]): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(domain[0])); e <= Math.ceil(Math.log10(domain[1])); e++) {
    for (const m of [1, 2, 5]) {
      const t = Number((m * 10 ** e).toPrecision(3));
      if (t >= domain[0] && t <= domain[1]) ticks.push(t);
    }
  }
  return ticks;
}

/** A log-scale y axis with 10ⁿ tick labels and a grid, labelled `label` (shared by the histograms). */
export function logY(label: string) {
  return {
    type: "log" as const,
    label,
    labelAnchor: "center" as const,
    labelArrow: "none" as const,
    tickFormat: pow10Label,
    nice: true,
    grid: true,
  };
}
