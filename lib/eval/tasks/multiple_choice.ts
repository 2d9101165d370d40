/**
 * lm-eval's `multiple_choice` with one context: a request `(query, " " + choice)` per choice;
 * `acc` and `acc_norm` (loglikelihood per character of the choice).
 */
import { ACC, multipleChoice } from "../metrics.ts";
import type { Request } from "../requests.ts";
import type { Task } from "../task.ts";

/** A question with its choices and the index of the right one. */
export interface ChoiceDoc {
  query: string;
  choices: string[];
  gold: number;
}

/** lm-eval's default `target_delimiter`. */
export const TARGET_DELIMITER = " ";

export const choiceParts: Pick<Task<ChoiceDoc>, "outputType" | "requests" | "process" | "metrics"> =
  {
    outputType: "multiple_choice",
    requests(doc): Request[] {
      return doc.choices.map((c) => ({ context: doc.query, continuation: TARGET_DELIMITER + c }));
    },
    process(doc, results) {
      return multipleChoice(results.map((r) => r.logprob), doc.choices, doc.gold);
    },
    metrics: { acc: ACC, acc_norm: ACC },
  };
