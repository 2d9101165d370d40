/** Reading task files: every error names the file and, where it applies, the line. */
import { KitError } from "../errors.ts";
import { readMaybeGzipped } from "../fsutil.ts";

/** A parsed line of a JSONL file, with where it came from. */
export interface JsonLine {
  file: string;
  line: number;
  value: Record<string, unknown>;
}

/**
 * The text of `file` (or, when it does not exist, of `file.gz` decompressed: the kit's own task
 * samples are stored gzipped), or an error naming it (missing or empty).
 */
export async function readText(file: string): Promise<string> {
  let text: string;
  try {
    text = new TextDecoder().decode(await readMaybeGzipped(file));
  } catch (e) {
    throw new KitError(
      e instanceof Deno.errors.NotFound ? `${file}: file not found` : `${file}: ${e}`,
    );
  }
  if (text.trim() === "") throw new KitError(`${file}: empty file`);
  return text;
}

/** Lines of a text file without their line ends (a final newline adds no line). */
export async function readLines(file: string): Promise<string[]> {
  const text = await readText(file);
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * The objects of a JSONL file; blank lines are skipped, anything else must be a JSON object.
 *
 * @example
 * ```ts
 * for (const { line, value } of await readJsonl("piqa/valid.jsonl")) console.log(line, value.goal);
 * ```
 */
export async function readJsonl(file: string): Promise<JsonLine[]> {
  const out: JsonLine[] = [];
  (await readLines(file)).forEach((text, i) => {
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new KitError(`${file}:${i + 1}: not valid JSON: ${(e as Error).message}`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new KitError(`${file}:${i + 1}: expected a JSON object`);
    }
    out.push({ file, line: i + 1, value: value as Record<string, unknown> });
  });
  if (out.length === 0) throw new KitError(`${file}: empty file`);
  return out;
}

/** Field `name` of a JSONL line as a string, or an error naming file, line and field. */
export function str(
  j: JsonLine,
  name: string,
  o: Record<string, unknown> = j.value,
  field = name,
): string {
  const v = o[name];
  if (v === undefined) throw new KitError(`${j.file}:${j.line}: missing field '${field}'`);
  if (typeof v !== "string") {
    throw new KitError(`${j.file}:${j.line}: field '${field}' must be a string, got ${typeof v}`);
  }
  return v;
}

/** Field `name` as an object. */
export function obj(j: JsonLine, name: string): Record<string, unknown> {
  const v = j.value[name];
  if (v === undefined) throw new KitError(`${j.file}:${j.line}: missing field '${name}'`);
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new KitError(`${j.file}:${j.line}: field '${name}' must be an object`);
  }
  return v as Record<string, unknown>;
}

/** Field `name` as an array. */
export function arr(
  j: JsonLine,
  name: string,
  o: Record<string, unknown> = j.value,
  field = name,
): unknown[] {
  const v = o[name];
  if (v === undefined) throw new KitError(`${j.file}:${j.line}: missing field '${field}'`);
  if (!Array.isArray(v)) {
    throw new KitError(`${j.file}:${j.line}: field '${field}' must be an array`);
  }
  return v;
}

/** An integer label in [0, n), from a number or a digit string; errors name file and line. */
export function label(value: unknown, n: number, where: string, what = "label"): number {
  const k = typeof value === "number"
    ? value
    : typeof value === "string" && /^\s*-?\d+\s*$/.test(value)
    ? Number(value)
    : NaN;
  if (!Number.isInteger(k)) {
    throw new KitError(`${where}: ${what} ${JSON.stringify(value)} is not an integer`);
  }
  if (k < 0 || k >= n) {
    throw new KitError(`${where}: ${what} ${k} is out of range 0..${n - 1}`);
  }
  return k;
}

/** Labels file (one integer per line) that must line up with `count` examples of `dataFile`. */
export async function readLabels(
  file: string,
  count: number,
  n: number,
  dataFile: string,
): Promise<number[]> {
  const lines = await readLines(file);
  if (lines.length !== count) {
    throw new KitError(`${file}: ${lines.length} labels for ${count} examples in ${dataFile}`);
  }
  return lines.map((l, i) => label(l, n, `${file}:${i + 1}`));
}
