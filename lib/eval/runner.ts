/** Runs one task on a model: load, build requests, score (resuming from the cache), aggregate. */
import { KitError } from "../errors.ts";
import type { Model } from "../model.ts";
import { Progress } from "../progress.ts";
import { type EvalCache, requestsKey } from "./cache.ts";
import type { LoglikelihoodResult } from "./requests.ts";
import { prefixTokenId } from "./requests.ts";
import { scoreTokens } from "./score.ts";
import { type Task, type TaskEnv, tokenRequestsOf } from "./task.ts";
import type { Item } from "./metrics.ts";

export interface EvaluateOptions {
  /** Folder with the task files (`data/tasks/` layout). */
  dataDir: string;
  /** Only the first `limit` documents (0 or undefined: all). */
  limit?: number;
  /** Maximum length (lm-eval's `max_length`, Quamba's window). Default 2048. */
  maxLength?: number;
  /** Rows per model run. Default 16. */
  batchSize?: number;
  /** Resamples for bootstrap standard errors (lm-eval's `bootstrap_iters`). Default 100000. */
  bootstrapIters?: number;
  /** Where per-example results are kept; none if omitted. */
  cache?: EvalCache;
  /** Show a progress bar on stderr. Default true. */
  progress?: boolean;
}

/** One metric's value and standard error (null where lm-eval reports "N/A"). */
export interface MetricResult {
  value: number;
  stderr: number | null;
  higherIsBetter: boolean;
}

/** Everything known about one task's run. */
export interface TaskResult {
  task: string;
  version: number;
  description: string;
  outputType: string;
  dataset: { path: string; name?: string; split: string };
  files: string[];
  format?: string;
  /** Documents in the files, and the number evaluated. */
  nOriginal: number;
  nEffective: number;
  requests: number;
  /** Documents whose results came from the cache. */
  fromCache: number;
  metrics: Record<string, MetricResult>;
  seconds: number;
  /** Tokens fed to the model by this run (not counting cached documents) and their rate. */
  tokens: number;
  tokensPerSecond: number;
}

/**
 * Evaluates `task` on `model`.
 *
 * @example
 * ```ts
 * const r = await evaluateTask(model, getTask("piqa"), { dataDir: "data/tasks", limit: 50 });
 * console.log(r.metrics.acc.value, r.metrics.acc.stderr);
 * ```
 */
export async function evaluateTask<D>(
  model: Model,
  task: Task<D>,
  options: EvaluateOptions,
): Promise<TaskResult> {
  const t0 = performance.now();
  const maxLength = options.maxLength ?? 2048;
  const env: TaskEnv = {
    tokenizer: model.tokenizer,
    prefixId: prefixTokenId(model.tokenizer),
    maxLength,
  };
  const loaded = await task.load(options.dataDir, env);
  const docs = options.limit ? loaded.docs.slice(0, options.limit) : loaded.docs;
  if (docs.length === 0) throw new KitError(`${loaded.files[0]}: no documents`);
  const where = (d: number) => `${task.name} document ${d} (${loaded.files[0]})`;
  const reqs = docs.map((d) => tokenRequestsOf(task, d, env));
  const keys = await Promise.all(reqs.map((r) => requestsKey(r, maxLength)));
  const results: (LoglikelihoodResult[] | undefined)[] = await Promise.all(
    docs.map((_, d) => options.cache?.get(task.name, d, keys[d])),
  );
  const fromCache = results.filter((r) => r !== undefined).length;
  const bar = options.progress === false ? undefined : new Progress(task.name, docs.length);
  bar?.tick(fromCache);

  const batchSize = options.batchSize ?? 16;
  const pending = docs.map((_, d) => d).filter((d) => results[d] === undefined);
  let tokens = 0, scoringSeconds = 0;
  for (let p = 0; p < pending.length;) {
    // A chunk of whole documents, about 4 batches of requests.
    const chunk: number[] = [];
    let n = 0;
    while (
      p < pending.length && (chunk.length === 0 || n + reqs[pending[p]].length <= 4 * batchSize)
    ) {
      n += reqs[pending[p]].length;
      chunk.push(pending[p++]);
    }
    const flat = chunk.flatMap((d) => reqs[d]);
    const owner = chunk.flatMap((d) => reqs[d].map((_, k) => [d, k] as const));
    const { results: scored, stats } = await scoreTokens(model, flat, {
      maxLength,
      batchSize,
      describe: (i) => `${where(owner[i][0])}, request ${owner[i][1]}`,
    });
    tokens += stats.tokens;
    scoringSeconds += stats.seconds;
    let o = 0;
    for (const d of chunk) {
      results[d] = scored.slice(o, o += reqs[d].length);
      await options.cache?.put(task.name, d, keys[d], results[d]!);
    }
    bar?.tick(chunk.length, `${(tokens / scoringSeconds).toFixed(0)} tok/s`);
  }

  const items: Record<string, Item[]> = {};
  for (const name of Object.keys(task.metrics)) items[name] = [];
  docs.forEach((doc, d) => {
    const per = task.process(doc, results[d]!);
    for (const name of Object.keys(task.metrics)) items[name].push(per[name]);
  });
  const bootstrapIters = options.bootstrapIters ?? 100000;
  const metrics: Record<string, MetricResult> = {};
  for (const [name, m] of Object.entries(task.metrics)) {
    const stderr = m.stderr(items[name], { bootstrapIters });
    metrics[name] = {
      value: m.aggregate(items[name]),
      stderr: stderr === null || Number.isNaN(stderr) ? null : stderr,
      higherIsBetter: m.higherIsBetter,
    };
  }
  const seconds = (performance.now() - t0) / 1000;
  bar?.done(tokens ? `${(tokens / scoringSeconds).toFixed(0)} tok/s` : "all from cache");
  return {
    task: task.name,
    version: task.version,
    description: task.description,
    outputType: task.outputType,
    dataset: task.dataset,
    files: loaded.files,
    format: loaded.format,
    nOriginal: loaded.docs.length,
    nEffective: docs.length,
    requests: reqs.reduce((a, r) => a + r.length, 0),
    fromCache,
    metrics,
    seconds,
    tokens,
    tokensPerSecond: scoringSeconds > 0 ? tokens / scoringSeconds : 0,
  };
}
