/**
 * A compact view of the scalar statistics table (lib/stats/schema.ts): the long table of
 * (layer, tensor, statistic, value) rows pivoted into one row per (layer, tensor) with a column
 * per statistic, for the tensors that tell Quamba's outlier story.
 *
 * @example
 * ```ts
 * import { scalarSummary } from "./lib/stats/summary.ts";
 * import { showTable } from "./lib/notebook/mod.ts";
 * showTable(scalarSummary(stats.scalars)); // layer, tensor, absmax, p99.999, ema_p99.999, kurtosis
 * ```
 * @module
 */
import type { Table } from "apache-arrow";
import { KitError } from "../errors.ts";

/** The tensors of the outlier story: the SSM input, the SSM output, and it after the Hadamard. */
export const OUTLIER_TENSORS: readonly string[] = ["u", "y", "y_had"];

/** What a per-tensor int8 scale depends on: the range, the clipping bounds, the tails. */
export const OUTLIER_STATISTICS: readonly string[] = [
  "absmax",
  "p99.999",
  "ema_p99.999",
  "kurtosis",
];

/** One (layer, tensor) with a column per statistic. */
export type SummaryRow = { layer: number; tensor: string } & Record<string, number | string>;

export interface SummaryOptions {
  /** Tensors shown, in this order within each layer (default OUTLIER_TENSORS). */
  tensors?: readonly string[];
  /** Statistics shown, as columns in this order (default OUTLIER_STATISTICS). */
  statistics?: readonly string[];
  /** Only these layers (default all). */
  layers?: readonly number[];
}

/**
 * Pivots the scalars table into one row per (layer, tensor), sorted by layer and then by the
 * order of `tensors`, with one column per statistic. A tensor or statistic that has no rows at
 * all is an error that lists what the table holds.
 *
 * @example
 * ```ts
 * scalarSummary(stats.scalars, { tensors: ["y", "y_had"], statistics: ["absmax", "kurtosis"] });
 * // [{ layer: 0, tensor: "y", absmax: 67.3, kurtosis: 57.8 }, { layer: 0, tensor: "y_had", ... }, ...]
 * ```
 */
export function scalarSummary(scalars: Table, options: SummaryOptions = {}): SummaryRow[] {
  const { tensors = OUTLIER_TENSORS, statistics = OUTLIER_STATISTICS, layers } = options;
  const cols = ["layer", "tensor", "statistic", "value"].map((c) => {
    const v = scalars.getChild(c);
    if (!v) {
      const have = scalars.schema.fields.map((f) => f.name).join(", ") || "none";
      throw new KitError(`scalars table: missing column '${c}' (columns: ${have})`);
    }
    return v;
  });
  const [layerCol, tensorCol, statCol, valueCol] = cols;
  const rows = new Map<string, SummaryRow>();
  const seenTensors = new Set<string>(), seenStats = new Set<string>();
  for (let i = 0; i < scalars.numRows; i++) {
    const layer = Number(layerCol.get(i)), tensor = String(tensorCol.get(i));
    const statistic = String(statCol.get(i));
    seenTensors.add(tensor);
    seenStats.add(statistic);
    if (!tensors.includes(tensor) || !statistics.includes(statistic)) continue;
    if (layers && !layers.includes(layer)) continue;
    const key = `${layer}/${tensor}`;
    const row = rows.get(key) ?? { layer, tensor };
    row[statistic] = Number(valueCol.get(i));
    rows.set(key, row);
  }
  for (
    const [what, want, seen] of [
      ["tensor", tensors, seenTensors],
      ["statistic", statistics, seenStats],
    ] as const
  ) {
    const missing = want.find((w) => !seen.has(w));
    if (missing !== undefined) {
      throw new KitError(
        `scalars table: no rows for ${what} '${missing}' (${what}s: ${
          [...seen].join(", ") || "none"
        })`,
      );
    }
  }
  return [...rows.values()].sort((a, b) =>
    a.layer - b.layer || tensors.indexOf(a.tensor) - tensors.indexOf(b.tensor)
  ).map((r) => {
    // columns in the order asked for (the table's row order may differ)
    const out: SummaryRow = { layer: r.layer, tensor: r.tensor };
    for (const s of statistics) if (r[s] !== undefined) out[s] = r[s];
    return out;
  });
}
