/**
 * Arrow IPC *file* format (readable by pyarrow, polars and duckdb), written atomically, with
 * key/value metadata on the schema.
 */
import { type Table, tableFromIPC, tableToIPC } from "apache-arrow";
import { KitError } from "./errors.ts";
import { writeFileAtomic } from "./fsutil.ts";

export type { Table };

/**
 * Writes `table` as an Arrow IPC file, with `metadata` on its schema.
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * await writeArrowFile("out/t.arrow", tableFromArrays({ x: Float64Array.from([1, 2]) }), { source: "demo" });
 * ```
 */
export async function writeArrowFile(
  path: string,
  table: Table,
  metadata: Record<string, string> = {},
): Promise<void> {
  for (const [k, v] of Object.entries(metadata)) table.schema.metadata.set(k, v);
  await writeFileAtomic(path, tableToIPC(table, "file"));
}

/** Reads an Arrow IPC file (or stream); errors name the file. */
export async function readArrowFile(path: string): Promise<Table> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    throw new KitError(`${path}: file not found`);
  }
  try {
    return tableFromIPC(bytes);
  } catch (e) {
    throw new KitError(`${path}: not an Arrow IPC file: ${(e as Error).message}`);
  }
}

/** The schema metadata of a table as a plain object. */
export function tableMetadata(table: Table): Record<string, string> {
  return Object.fromEntries(table.schema.metadata);
}
