/** Small helpers shared by the command-line scripts. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { KitError } from "./errors.ts";

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

/** Runs a CLI's main: a KitError prints as one clear line (no stack) and exits with status 1. */
export async function runCli(main: () => Promise<void>): Promise<void> {
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

/** A positive integer option, or a clear error naming it. */
export function intOption(value: string | undefined, name: string, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new KitError(`--${name} must be a non-negative integer, got '${value}'`);
  }
  return n;
}

/**
 * Turns a stream of token ids into text pieces as they become printable: decodes everything so
 * far and returns what is new, holding back an incomplete UTF-8 character.
 */
export function textStreamer(decode: (ids: number[]) => string): (id: number) => string {
  const ids: number[] = [];
  let shown = 0;
  return (id) => {
    ids.push(id);
    const text = decode(ids);
    if (text.endsWith("\uFFFD")) return "";
    const piece = text.slice(shown);
    shown = text.length;
    return piece;
  };
}
