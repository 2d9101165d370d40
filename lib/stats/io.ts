/**
 * Reading the activation statistics tables (lib/stats/schema.ts) of a stats folder, checked for
 * their columns; errors name the folder, file or column at fault.
 */
import { join } from "node:path";
import { readArrowFile, type Table } from "../arrow.ts";
import { KitError } from "../errors.ts";
import { exists } from "../fsutil.ts";

/** The three statistics tables of `deno task stats`. */
export interface StatsTables {
  scalars: Table;
  channels: Table;
  histograms: Table;
}

/** The columns each table must have (more are allowed). */
export const TABLE_COLUMNS = {
  scalars: ["layer", "tensor", "statistic", "value"],
  channels: ["layer", "tensor", "channel", "absmax"],
  histograms: ["layer", "tensor", "lo", "hi", "count"],
} as const;

export type TableName = keyof typeof TABLE_COLUMNS;

/**
 * Reads scalars.arrow, channels.arrow and histograms.arrow from a stats folder; errors name the
 * missing file or column.
 *
 * @example
 * ```ts
 * const stats = await readStatsTables("reports/stats");
 * console.log(stats.scalars.numRows);
 * ```
 */
export async function readStatsTables(dir: string): Promise<StatsTables> {
  const out: Partial<StatsTables> = {};
  if (!await exists(dir)) throw new KitError(`${dir}: no such stats folder`);
  for (const name of Object.keys(TABLE_COLUMNS) as TableName[]) {
    const path = join(dir, `${name}.arrow`);
    if (!await exists(path)) {
      throw new KitError(
        `${dir}: no ${name}.arrow (a stats folder holds scalars.arrow, channels.arrow and ` +
          "histograms.arrow, as written by deno task stats)",
      );
    }
    const table = await readArrowFile(path);
    checkColumns(table, name, { where: path });
    out[name] = table;
  }
  return out as StatsTables;
}

/**
 * Throws a KitError naming the table (or its file, `where`) and the first missing column.
 *
 * @example
 * ```ts
 * checkColumns(table, "scalars", { where: "out/scalars.arrow" });
 * // KitError: out/scalars.arrow: missing column 'value' (columns: layer, tensor, statistic)
 * ```
 */
export function checkColumns(
  table: Table,
  name: TableName,
  options: { where?: string } = {},
): void {
  const { where = `${name} table` } = options;
  for (const col of TABLE_COLUMNS[name]) {
    if (!table.getChild(col)) {
      const have = table.schema.fields.map((f) => f.name).join(", ");
      throw new KitError(`${where}: missing column '${col}' (columns: ${have || "none"})`);
    }
  }
}
