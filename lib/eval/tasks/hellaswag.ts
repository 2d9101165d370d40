/**
 * `hellaswag`: the context `activity_label: ctx_a Ctx_b` and four endings, each cleaned by
 * lm-eval's `preprocess` (strip, " [title]" → ". ", drop every `[...]`, collapse double spaces);
 * acc, acc_norm.
 *
 * Two file formats: the original `hellaswag/hellaswag_val.jsonl` (used when present; exactly
 * lm-eval's documents, with `ctx_b.capitalize()`), or the derived `hellaswag_val_full.txt`
 * (6 lines per task: `activity_label: ctx`, the label, four endings), which keeps `ctx` as it
 * is, so `ctx_b`'s first letter is not capitalised: scores can differ slightly from lm-eval's.
 */
import { join } from "node:path";
import { KitError } from "../../errors.ts";
import { exists } from "../../fsutil.ts";
import { arr, label, readJsonl, readLines, str } from "../data.ts";
import { pyCapitalize, pyStrip } from "../pystr.ts";
import type { Loaded, Task } from "../task.ts";
import { type ChoiceDoc, choiceParts } from "./multiple_choice.ts";

/** Format names recorded in results. */
export const HELLASWAG_ORIGINAL = "original hellaswag_val.jsonl (lm-eval's documents)";
export const HELLASWAG_DERIVED =
  "derived hellaswag_val_full.txt (ctx_b not capitalised; differs from lm-eval)";

/** lm-eval's `hellaswag.utils.preprocess`. */
export function hellaswagPreprocess(text: string): string {
  return pyStrip(text).replaceAll(" [title]", ". ").replace(/\[.*?\]/g, "").replaceAll("  ", " ");
}

/** A document of the original format (`ctx_a`, `ctx_b`, `activity_label`, `endings`, `label`). */
export function hellaswagDoc(
  raw: { activity_label: string; ctx_a: string; ctx_b: string; endings: string[] },
  gold: number,
): ChoiceDoc {
  const ctx = raw.ctx_a + " " + pyCapitalize(raw.ctx_b);
  return {
    query: hellaswagPreprocess(raw.activity_label + ": " + ctx),
    choices: raw.endings.map(hellaswagPreprocess),
    gold,
  };
}

async function loadOriginal(file: string): Promise<Loaded<ChoiceDoc>> {
  const docs = (await readJsonl(file)).map((j) => {
    const endings = arr(j, "endings").map((e, k) => {
      if (typeof e !== "string") {
        throw new KitError(`${j.file}:${j.line}: endings[${k}] must be a string`);
      }
      return e;
    });
    if (endings.length !== 4) {
      throw new KitError(`${j.file}:${j.line}: ${endings.length} endings, expected 4`);
    }
    if (j.value.label === undefined) {
      throw new KitError(`${j.file}:${j.line}: missing field 'label'`);
    }
    const gold = label(j.value.label, 4, `${j.file}:${j.line}`);
    return hellaswagDoc({
      activity_label: str(j, "activity_label"),
      ctx_a: str(j, "ctx_a"),
      ctx_b: str(j, "ctx_b"),
      endings,
    }, gold);
  });
  return { docs, files: [file], format: HELLASWAG_ORIGINAL };
}

async function loadDerived(file: string): Promise<Loaded<ChoiceDoc>> {
  const lines = await readLines(file);
  if (lines.length % 6 !== 0) {
    throw new KitError(
      `${file}:${lines.length}: ${lines.length} lines is not a multiple of 6 ` +
        `(context, label, 4 endings per task); the last task is incomplete`,
    );
  }
  const docs: ChoiceDoc[] = [];
  for (let i = 0; i < lines.length; i += 6) {
    docs.push({
      query: hellaswagPreprocess(lines[i]),
      choices: lines.slice(i + 2, i + 6).map(hellaswagPreprocess),
      gold: label(lines[i + 1], 4, `${file}:${i + 2}`),
    });
  }
  return { docs, files: [file], format: HELLASWAG_DERIVED };
}

export const hellaswag: Task<ChoiceDoc> = {
  name: "hellaswag",
  version: 1.0,
  description: "sentence completion, 4 endings: acc, acc_norm",
  dataset: { path: "Rowan/hellaswag", split: "validation" },
  ...choiceParts,
  async load(dir) {
    const original = join(dir, "hellaswag", "hellaswag_val.jsonl");
    if (await exists(original)) return await loadOriginal(original);
    return await loadDerived(join(dir, "hellaswag", "hellaswag_val_full.txt"));
  },
};
