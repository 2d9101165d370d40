/**
 * Calibration samples from text the user gives: a `.jsonl` file of `{"text": ...}` documents (one
 * sample each, truncated to `maxLen` tokens), or a plain text file whose blank-line separated
 * paragraphs are packed, in order, into samples of up to `maxLen` tokens. No padding.
 */
import { basename } from "node:path";
import { KitError } from "./errors.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** Token sequences to calibrate on, and where they came from. */
export interface CalibrationSet {
  /** The file read. */
  source: string;
  samples: number[][];
}

export interface CalibrationOptions {
  /** Number of samples (default 512, as in the paper); fewer if the file has less text. */
  samples?: number;
  /** Maximum tokens per sample (default 512). */
  maxLen?: number;
}

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
  const want = options.samples ?? 512, maxLen = options.maxLen ?? 512;
  if (!(want > 0) || !(maxLen > 1)) {
    throw new KitError(`calibration: samples must be > 0 and max length > 1`);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new KitError(`${path}: calibration file not found`);
  }
  if (!text.trim()) throw new KitError(`${path}: the calibration file is empty`);
  const samples: number[][] = [];
  if (path.endsWith(".jsonl")) {
    const lines = text.split("\n");
    for (let i = 0; i < lines.length && samples.length < want; i++) {
      if (!lines[i].trim()) continue;
      let doc: unknown;
      try {
        doc = JSON.parse(lines[i]);
      } catch {
        throw new KitError(`${path}:${i + 1}: not valid JSON`);
      }
      const t = (doc as { text?: unknown })?.text;
      if (typeof t !== "string") throw new KitError(`${path}:${i + 1}: no "text" string field`);
      const ids = tokenizer.encode(t).slice(0, maxLen);
      if (ids.length > 1) samples.push(ids);
    }
  } else {
    let cur: number[] = [];
    for (const para of text.split(/\n\s*\n/)) {
      if (samples.length >= want) break;
      const p = para.trim();
      if (!p) continue;
      const ids = tokenizer.encode((cur.length ? "\n\n" : "") + p);
      cur.push(...ids);
      while (cur.length >= maxLen && samples.length < want) {
        samples.push(cur.slice(0, maxLen));
        cur = cur.slice(maxLen);
      }
    }
    if (cur.length > 1 && samples.length < want) samples.push(cur);
  }
  if (samples.length === 0) throw new KitError(`${path}: no calibration text found`);
  return { source: basename(path), samples };
}
