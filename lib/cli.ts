/** Small helpers shared by the command-line scripts. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { KitError } from "./errors.ts";
import { removeTracked } from "./temp.ts";

/** Parsed option values: strings, booleans, or arrays of them for `multiple` options. */
export type CliValues<T extends NonNullable<ParseArgsConfig["options"]>> = {
  [K in keyof T]?: T[K] extends { multiple: true }
    ? (T[K]["type"] extends "boolean" ? boolean[] : string[])
    : T[K]["type"] extends "boolean" ? boolean
    : string;
};

/**
 * Parses `args` with node:util's parseArgs; `--help` prints `usage` and exits, and a bad option
 * prints the problem and the usage, then exits with status 2.
 */
export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  usage: string,
): CliValues<T> {
  try {
    const parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
    const values = parsed.values as Record<string, unknown>;
    if (values.help) {
      console.log(usage);
      Deno.exit(0);
    }
    return values as CliValues<T>;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${usage}`);
    Deno.exit(2);
  }
}

/**
 * Runs a CLI's main: a KitError prints as one clear line (no stack) and exits with status 1.
 * SIGINT/SIGTERM remove what the process was still writing (lib/temp.ts) and exit with 130/143;
 * and the process ends when its parent does (`deno task` does not pass a signal on to the script
 * it started, nor does a killed benchmark parent to its children).
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  endWithParent();
  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    try {
      Deno.addSignalListener(sig, () => {
        removeTracked();
        Deno.exit(code);
      });
    } catch { /* this signal cannot be listened to here */ }
  }
  try {
    await main();
  } catch (e) {
    if (e instanceof KitError) {
      console.error(`error: ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}

/** Exits (status 143, temporaries removed) once the parent process is gone. */
function endWithParent(): void {
  const parent = Deno.ppid;
  const id = setInterval(() => {
    if (Deno.ppid !== parent) {
      removeTracked();
      Deno.exit(143);
    }
  }, 500);
  Deno.unrefTimer(id);
}

/**
 * An integer option in `[min, max]` written as plain decimal digits (not `1e9`, `0x10` or an
 * empty string), or a clear error naming it.
 *
 * @example
 * ```ts
 * intOption("64", "max-new-tokens", 64, { min: 0 }); // 64
 * ```
 */
export function intOption(
  value: string | undefined,
  name: string,
  dflt: number,
  range: { min?: number; max?: number } = {},
): number {
  if (value === undefined) return dflt;
  const min = range.min ?? 0, max = range.max ?? Number.MAX_SAFE_INTEGER;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const bounds = range.max === undefined ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new KitError(`--${name} must be an integer ${bounds} (decimal digits), got '${value}'`);
  }
  return n;
}

/**
 * A decimal number option in `[min, max]`, or a clear error naming it.
 *
 * @example
 * ```ts
 * numberOption("99.9", "percentile", 99.999, { min: 90, max: 100 }); // 99.9
 * ```
 */
export function numberOption(
  value: string | undefined,
  name: string,
  dflt: number,
  range: { min: number; max: number; why?: string },
): number {
  if (value === undefined) return dflt;
  const n = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(value) ? Number(value) : NaN;
  if (!(n >= range.min && n <= range.max)) {
    const why = range.why ? ` (${range.why})` : "";
    throw new KitError(
      `--${name} must be a number in [${range.min}, ${range.max}]${why}, got '${value}'`,
    );
  }
  return n;
}

/** The most CPU threads per operator the kit asks onnxruntime for: 4 per core of this machine. */
export function maxThreads(): number {
  return 4 * (navigator.hardwareConcurrency || 1);
}

/** The `--threads` option (undefined: onnxruntime's choice). */
export function threadsOption(value: string | undefined): number | undefined {
  return value === undefined ? undefined : intOption(value, "threads", 0, {
    min: 1,
    max: maxThreads(),
  });
}

/**
 * A comma-separated list option: each item among `known` (if given), none twice.
 *
 * @example
 * ```ts
 * listOption("piqa,arc_easy", "tasks", ["piqa", "arc_easy", "winogrande"]); // ["piqa", "arc_easy"]
 * ```
 */
export function listOption(
  value: string | undefined,
  name: string,
  known?: readonly string[],
): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new KitError(`--${name} is empty`);
  const seen = new Set<string>();
  const noun = name.replace(/s$/, "");
  for (const it of items) {
    if (known && !known.includes(it)) {
      throw new KitError(`--${name}: unknown ${noun} '${it}' (known: ${known.join(", ")})`);
    }
    if (seen.has(it)) throw new KitError(`--${name} lists '${it}' twice`);
    seen.add(it);
  }
  return items;
}

/**
 * Turns a stream of token ids into text pieces as they become printable, decoding only a short
 * window each time (the tokens since the last piece and those of the piece before it, so that a
 * decoder that treats the start of a text specially still joins pieces right), and holding back
 * an incomplete UTF-8 character. The pieces join to `decode(all ids)`; the work per token does
 * not grow with the length of the text.
 *
 * @example
 * ```ts
 * const stream = textStreamer((ids) => tokenizer.decode(ids));
 * for (const id of ids) Deno.stdout.writeSync(new TextEncoder().encode(stream(id)));
 * ```
 */
export function textStreamer(decode: (ids: number[]) => string): (id: number) => string {
  const ids: number[] = [];
  let prefix = 0, read = 0;
  return (id) => {
    ids.push(id);
    const before = decode(ids.slice(prefix, read));
    const text = decode(ids.slice(prefix));
    if (text.length <= before.length || text.endsWith("\uFFFD")) return "";
    ids.splice(0, read); // what the next window starts with is kept, the rest dropped
    prefix = 0;
    read = ids.length;
    return text.slice(before.length);
  };
}
