/**
 * `arc_easy`, `arc_challenge`: "Question: {question}\nAnswer:" with the answer texts as choices
 * (3 to 5 of them); the gold is the position of `answerKey` among the labels, which may be
 * letters or digits. Reads the original ARC JSONL (`question.stem`, `question.choices[]`).
 */
import { join } from "node:path";
import { KitError } from "../../errors.ts";
import { arr, obj, readJsonl, str } from "../data.ts";
import type { Task } from "../task.ts";
import { type ChoiceDoc, choiceParts } from "./multiple_choice.ts";

function arcTask(name: string, file: string, split: string): Task<ChoiceDoc> {
  return {
    name,
    version: 1.0,
    description: `ARC ${split} science questions, 3-5 choices: acc, acc_norm`,
    dataset: { path: "allenai/ai2_arc", name: split, split: "test" },
    ...choiceParts,
    async load(dir) {
      const path = join(dir, "arc", file);
      const docs = (await readJsonl(path)).map((j): ChoiceDoc => {
        const q = obj(j, "question");
        const where = `${j.file}:${j.line}`;
        const choices = arr(j, "choices", q, "question.choices").map((c, k) => {
          if (c === null || typeof c !== "object") {
            throw new KitError(`${where}: question.choices[${k}] must be an object`);
          }
          const o = c as Record<string, unknown>;
          return {
            text: str(j, "text", o, `question.choices[${k}].text`),
            label: str(j, "label", o, `question.choices[${k}].label`),
          };
        });
        if (choices.length < 3 || choices.length > 5) {
          throw new KitError(`${where}: ${choices.length} choices, expected 3 to 5`);
        }
        const key = str(j, "answerKey");
        const gold = choices.findIndex((c) => c.label === key);
        if (gold < 0) {
          throw new KitError(
            `${where}: answerKey '${key}' is not one of the labels ${
              choices.map((c) => c.label).join(", ")
            }`,
          );
        }
        return {
          query: `Question: ${str(j, "stem", q, "question.stem")}\nAnswer:`,
          choices: choices.map((c) => c.text),
          gold,
        };
      });
      return { docs, files: [path] };
    },
  };
}

export const arcEasy: Task<ChoiceDoc> = arcTask("arc_easy", "ARC-Easy-Test.jsonl", "ARC-Easy");
export const arcChallenge: Task<ChoiceDoc> = arcTask(
  "arc_challenge",
  "ARC-Challenge-Test.jsonl",
  "ARC-Challenge",
);
