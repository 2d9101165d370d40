/**
 * `lambada_openai`: predict the last word of a passage. Context = every word but the last
 * (`text.split(' ')[:-1]`), continuation = `' ' + last word`; `acc` = the whole word is the
 * greedy continuation, `perplexity` = exp(-mean loglikelihood) over documents.
 */
import { join } from "node:path";
import { ACC, PERPLEXITY } from "../metrics.ts";
import { readJsonl, str } from "../data.ts";
import type { Task } from "../task.ts";

export interface LambadaDoc {
  text: string;
}

export const lambadaOpenai: Task<LambadaDoc> = {
  name: "lambada_openai",
  version: 1.0,
  description: "last word of a passage: greedy-match accuracy and perplexity",
  outputType: "loglikelihood",
  dataset: { path: "EleutherAI/lambada_openai", name: "default", split: "test" },
  async load(dir) {
    const file = join(dir, "lambada_openai", "lambada_test.jsonl");
    const docs = (await readJsonl(file)).map((j) => ({ text: str(j, "text") }));
    return { docs, files: [file] };
  },
  requests(doc) {
    const words = doc.text.split(" ");
    return [{
      context: words.slice(0, -1).join(" "),
      continuation: " " + words[words.length - 1],
    }];
  },
  process(_doc, [r]) {
    return { perplexity: r.logprob, acc: r.isGreedy ? 1 : 0 };
  },
  metrics: { perplexity: PERPLEXITY, acc: ACC },
};
