/** What a task is: its documents, the requests each one makes, and how results become metrics. */
import type { Tokenizer } from "../tokenizer.ts";
import type { Item, Metric } from "./metrics.ts";
import {
  encodeRequest,
  type LoglikelihoodResult,
  type Request,
  type TokenRequest,
} from "./requests.ts";

/** What building requests may need beside the document. */
export interface TaskEnv {
  tokenizer: Tokenizer;
  /** lm-eval's prefix token id (the tokenizer's `<|endoftext|>`). */
  prefixId: number;
  /** Maximum sequence length (lm-eval's `max_length`; Quamba's window length). */
  maxLength: number;
}

/** A task's documents and where they came from. */
export interface Loaded<D> {
  docs: D[];
  /** The files read. */
  files: string[];
  /** The data format, where a task reads more than one. */
  format?: string;
}

/** A zero-shot task with lm-eval's semantics. */
export interface Task<D = unknown> {
  /** lm-eval's task name (or `quamba_wikitext2`, which is not an lm-eval task). */
  name: string;
  /** lm-eval's task version (`metadata.version`). */
  version: number;
  /** One line: what is scored and how. */
  description: string;
  /** lm-eval's `output_type`. */
  outputType: "loglikelihood" | "multiple_choice" | "loglikelihood_rolling" | "token_windows";
  /** lm-eval's dataset (path, name, split) that the files correspond to. */
  dataset: { path: string; name?: string; split: string };
  /** Reads the documents from a data folder (`data/tasks/` layout). */
  load(dataDir: string, env: TaskEnv): Promise<Loaded<D>>;
  /** Text requests of a document (text tasks). */
  requests?(doc: D): Request[];
  /** Token requests of a document (perplexity tasks). */
  tokenRequests?(doc: D, env: TaskEnv): TokenRequest[];
  /** Per-metric items of a document from the results of its requests, in order. */
  process(doc: D, results: LoglikelihoodResult[]): Record<string, Item>;
  metrics: Record<string, Metric>;
}

/** The token requests of a document, through lm-eval's encoding for text tasks. */
export function tokenRequestsOf<D>(task: Task<D>, doc: D, env: TaskEnv): TokenRequest[] {
  if (task.tokenRequests) return task.tokenRequests(doc, env);
  return task.requests!(doc).map((r) => encodeRequest(env.tokenizer, r, env.prefixId));
}
