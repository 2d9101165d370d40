/**
 * `winogrande` (winogrande_xl validation = WinoGrande 1.1 dev), partial scoring: for each option
 * the context is the sentence up to the blank with the option filled in, and the continuation is
 * `" " + the rest of the sentence after the blank (stripped)`; acc = the option under which the
 * shared continuation is more likely.
 */
import { join } from "node:path";
import { KitError } from "../../errors.ts";
import { exists } from "../../fsutil.ts";
import { ACC, argmaxOf } from "../metrics.ts";
import { readJsonl, readLines, str } from "../data.ts";
import { pyStrip } from "../pystr.ts";
import type { Task } from "../task.ts";

export interface WinograndeDoc {
  sentence: string;
  options: [string, string];
  /** 0 or 1 */
  gold: number;
}

/** The two (context, continuation) requests of a sentence with one `_` blank. */
export function winograndeRequests(
  doc: WinograndeDoc,
): { context: string; continuation: string }[] {
  const idx = doc.sentence.indexOf("_");
  const rest = pyStrip(doc.sentence.slice(idx + 1));
  return doc.options.map((o) => ({
    context: doc.sentence.slice(0, idx) + o,
    continuation: " " + rest,
  }));
}

/** An answer "1" or "2" (string or number) as 1 or 2. */
function answerOf(v: unknown, where: string): number {
  const k = typeof v === "number" ? v : typeof v === "string" ? Number(v.trim()) : NaN;
  if (k !== 1 && k !== 2) {
    throw new KitError(`${where}: answer ${JSON.stringify(v)} is out of range (expected 1 or 2)`);
  }
  return k;
}

export const winogrande: Task<WinograndeDoc> = {
  name: "winogrande",
  version: 1.0,
  description: "pronoun resolution, 2 options, partial scoring: acc",
  outputType: "multiple_choice",
  dataset: { path: "allenai/winogrande", name: "winogrande_xl", split: "validation" },
  async load(dir) {
    const file = join(dir, "winogrande", "dev.jsonl");
    const labelsFile = join(dir, "winogrande", "dev-labels.lst");
    const lines = await readJsonl(file);
    let labels: number[] | undefined;
    if (await exists(labelsFile)) {
      const ls = await readLines(labelsFile);
      if (ls.length !== lines.length) {
        throw new KitError(
          `${labelsFile}: ${ls.length} labels for ${lines.length} examples in ${file}`,
        );
      }
      labels = ls.map((l, i) => answerOf(l, `${labelsFile}:${i + 1}`));
    }
    const docs = lines.map((j, i): WinograndeDoc => {
      const where = `${j.file}:${j.line}`;
      const sentence = str(j, "sentence");
      if (!sentence.includes("_")) throw new KitError(`${where}: sentence has no '_' blank`);
      const answer = j.value.answer ?? labels?.[i];
      if (answer === undefined) throw new KitError(`${where}: missing field 'answer'`);
      const k = answerOf(answer, where);
      if (labels && labels[i] !== k) {
        throw new KitError(
          `${where}: answer ${k} disagrees with ${labelsFile}:${i + 1} (${labels[i]})`,
        );
      }
      return { sentence, options: [str(j, "option1"), str(j, "option2")], gold: k - 1 };
    });
    return { docs, files: labels ? [file, labelsFile] : [file] };
  },
  requests: winograndeRequests,
  process(doc, results) {
    return { acc: argmaxOf(results.map((r) => r.logprob)) === doc.gold ? 1 : 0 };
  },
  metrics: { acc: ACC },
};
