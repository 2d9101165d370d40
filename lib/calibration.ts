/**
 * Calibration samples from text the user gives: a `.jsonl` file of `{"text": ...}` documents (one
 * sample each, truncated to `maxLen` tokens), a plain text file whose blank-line separated
 * paragraphs are packed, in order, into samples of up to `maxLen` tokens, or an array of texts
 * (one sample each, like jsonl documents). No padding.
 */
import { basename } from "node:path";
import { sha256 } from "./cache.ts";
import { KitError } from "./errors.ts";
import { readMaybeGzipped } from "./fsutil.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** Token sequences to calibrate on, and where they came from. */
export interface CalibrationSet {
  /** The file read (its name), or a description of the texts given. */
  source: string;
  samples: number[][];
  /** Things the user should know: less text than asked for, too little to calibrate on. */
  warnings?: string[];
}

export interface CalibrationOptions {
  /** Number of samples (default 512, as in the paper); fewer if the file has less text. */
  samples?: number;
  /** Maximum tokens per sample (default 512). */
  maxLen?: number;
}

/** Below this many tokens the statistics (and so the scales) rest on too little text. */
export const FEW_TOKENS = 2048;

/**
 * Reads calibration samples from `path`.
 *
 * @example
 * ```ts
 * const calib = await loadCalibration("data/calibration/wikitext2_valid_sample.txt", model.tokenizer, { samples: 64 });
 * ```
 */
export async function loadCalibration(
  path: string,
  tokenizer: Tokenizer,
  options: CalibrationOptions = {},
): Promise<CalibrationSet> {
  const { want, maxLen } = checkOptions(options);
  const text = await readText(path);
  let samples: number[][];
  if (path.endsWith(".jsonl")) {
    samples = documentSamples(jsonlTexts(path, text), tokenizer, want, maxLen);
  } else {
    samples = packedSamples(text, tokenizer, want, maxLen);
  }
  if (samples.length === 0) throw new KitError(`${path}: no calibration text found`);
  return withWarnings({ source: basename(path), samples }, want);
}

/**
 * Calibration samples from texts given in code: each text one sample, truncated to `maxLen`
 * tokens. Anything but a non-empty array of strings is refused with a clear message.
 *
 * @example
 * ```ts
 * const calib = calibrationFromTexts(["The Time Traveller ...", "Another text ..."], tokenizer);
 * ```
 */
export function calibrationFromTexts(
  texts: unknown,
  tokenizer: Tokenizer,
  options: CalibrationOptions = {},
): CalibrationSet {
  const { want, maxLen } = checkOptions(options);
  if (!Array.isArray(texts) || texts.length === 0) {
    throw new KitError(`calibration: expected a non-empty array of texts, got ${describe(texts)}`);
  }
  texts.forEach((t, i) => {
    if (typeof t !== "string") {
      throw new KitError(`calibration[${i}]: expected a string, got ${describe(t)}`);
    }
  });
  const samples = documentSamples(texts as string[], tokenizer, want, maxLen);
  if (samples.length === 0) {
    throw new KitError("calibration: the texts hold no sample of at least 2 tokens");
  }
  return withWarnings({ source: `${texts.length} texts given in code`, samples }, want);
}

/** A key for the exact samples of a calibration set (cache keys). */
export async function calibrationKey(calib: CalibrationSet): Promise<string> {
  return await sha256(JSON.stringify(calib.samples));
}

function checkOptions(options: CalibrationOptions): { want: number; maxLen: number } {
  const want = options.samples ?? 512, maxLen = options.maxLen ?? 512;
  if (!Number.isSafeInteger(want) || want < 1) {
    throw new KitError(`calibration: samples must be an integer >= 1, got ${want}`);
  }
  if (!Number.isSafeInteger(maxLen) || maxLen < 2) {
    throw new KitError(`calibration: max length must be an integer >= 2, got ${maxLen}`);
  }
  return { want, maxLen };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an empty array";
  return typeof v === "object" ? `an object with keys ${Object.keys(v as object)}` : typeof v;
}

async function readText(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readMaybeGzipped(path);
  } catch (e) {
    if (e instanceof Deno.errors.IsADirectory) {
      throw new KitError(`${path}: is a folder, not a calibration file`);
    }
    throw new KitError(`${path}: calibration file not found`);
  }
  if (bytes.includes(0)) {
    throw new KitError(`${path}: not a text file (it holds NUL bytes); calibration needs text`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new KitError(`${path}: not UTF-8 text; calibration needs text`);
  }
  if (!text.trim()) throw new KitError(`${path}: the calibration file is empty`);
  return text;
}

/** The `text` field of each line, parsed as they are needed. */
function* jsonlTexts(path: string, text: string): Generator<string> {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    let doc: unknown;
    try {
      doc = JSON.parse(lines[i]);
    } catch {
      throw new KitError(`${path}:${i + 1}: not valid JSON`);
    }
    const t = (doc as { text?: unknown })?.text;
    if (typeof t !== "string") throw new KitError(`${path}:${i + 1}: no "text" string field`);
    yield t;
  }
}

function documentSamples(texts: Iterable<string>, tok: Tokenizer, want: number, maxLen: number) {
  const samples: number[][] = [];
  for (const t of texts) {
    if (samples.length >= want) break;
    const ids = tok.encode(t).slice(0, maxLen);
    if (ids.length > 1) samples.push(ids);
  }
  return samples;
}

function packedSamples(text: string, tok: Tokenizer, want: number, maxLen: number) {
  const samples: number[][] = [];
  let cur: number[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    if (samples.length >= want) break;
    const p = para.trim();
    if (!p) continue;
    cur.push(...tok.encode((cur.length ? "\n\n" : "") + p));
    while (cur.length >= maxLen && samples.length < want) {
      samples.push(cur.slice(0, maxLen));
      cur = cur.slice(maxLen);
    }
  }
  if (cur.length > 1 && samples.length < want) samples.push(cur);
  return samples;
}

function withWarnings(calib: CalibrationSet, want: number): CalibrationSet {
  const warnings: string[] = [];
  const tokens = calib.samples.reduce((a, s) => a + s.length, 0);
  if (calib.samples.length < want) {
    warnings.push(`${calib.source} holds ${calib.samples.length} samples; using all of them`);
  }
  if (tokens < FEW_TOKENS) {
    warnings.push(
      `${calib.source} gives only ${tokens} tokens in ${calib.samples.length} sample(s): ` +
        `scales from so little text are unreliable (the paper calibrates on 512 samples of 512 tokens)`,
    );
  }
  return { ...calib, warnings };
}
