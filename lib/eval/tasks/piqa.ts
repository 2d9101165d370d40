/** `piqa`: "Question: {goal}\nAnswer:" with the two solutions as choices; acc, acc_norm. */
import { join } from "node:path";
import { readJsonl, readLabels, str } from "../data.ts";
import type { Task } from "../task.ts";
import { type ChoiceDoc, choiceParts } from "./multiple_choice.ts";

export const piqa: Task<ChoiceDoc> = {
  name: "piqa",
  version: 1.0,
  description: "physical commonsense, 2 choices: acc, acc_norm",
  dataset: { path: "baber/piqa", split: "validation" },
  ...choiceParts,
  async load(dir) {
    const file = join(dir, "piqa", "valid.jsonl");
    const labelsFile = join(dir, "piqa", "valid-labels.lst");
    const lines = await readJsonl(file);
    const labels = await readLabels(labelsFile, lines.length, 2, file);
    const docs = lines.map((j, i) => ({
      query: `Question: ${str(j, "goal")}\nAnswer:`,
      choices: [str(j, "sol1"), str(j, "sol2")],
      gold: labels[i],
    }));
    return { docs, files: [file, labelsFile] };
  },
};
