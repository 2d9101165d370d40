/**
 * Zero-shot evaluation with lm-evaluation-harness semantics, and the two WikiText-2 perplexities.
 *
 *   deno task eval [--model DIR] [--method fp32|fp16|quamba|...] [--tasks a,b,...] [--data DIR] [--limit N]
 *                  [--out DIR] [--ep cpu|webgpu|cuda]
 */
import { join } from "node:path";
import { checkCacheDir } from "../lib/cache.ts";
import {
  intOption,
  listOption,
  numberOption,
  parseCli,
  runCli,
  threadsOption,
} from "../lib/cli.ts";
import { EvalCache, modelKey } from "../lib/eval/cache.ts";
import { openAnyModel } from "../lib/eval/open_model.ts";
import { formatTable, type RunConfig, writeResults } from "../lib/eval/results.ts";
import { evaluateTask, type TaskResult } from "../lib/eval/runner.ts";
import { getTask, TASKS } from "../lib/eval/tasks/index.ts";
import { ensureWritableDir, prepareOutputDir } from "../lib/output.ts";
import { DATA_DIR, EMBEDDED_MODEL, userPath } from "../lib/paths.ts";
import { parseEp } from "../lib/runtime.ts";
import { METHODS } from "../lib/quant/methods.ts";
import { isQuantizedFolder } from "../lib/quant/quantize.ts";
import { prefixTokenId } from "../lib/eval/requests.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";

/** What the cached results depend on besides the weights: the method and its calibration. */
function methodKey(method: string, calib?: string, samples?: number, percentile?: number): string {
  if (!METHODS[method]) return method;
  return `${method}@${calib ?? "default-calibration"}:${samples ?? "all"}:${percentile ?? 99.999}`;
}

const SAMPLES = join(DATA_DIR, "tasks");
const DEFAULT_TASKS = TASKS.map((t) => t.name);

const USAGE = `Evaluate a model: zero-shot tasks with lm-eval's rules, and perplexities.

usage: deno task eval [--model DIR] [--tasks LIST] [options]

  --model DIR        checkpoint folder, or a quantized folder saved by deno task quantize
                     (default: the embedded demo model)
  --method NAME      fp32 (default), fp16, or an int8 method: ${Object.keys(METHODS).join(", ")}
                     (the checkpoint is quantized first, calibrated on --calib, and cached)
  --calib FILE       calibration text for int8 methods (default: the shipped WikiText-2 sample)
  --samples N        calibration samples (default 512, or all the text holds)
  --percentile P     percentile of |u| for the clipping methods, in [90, 100] (default: Quamba's,
                     99.999 for Mamba, 99.9 for Jamba)
  --tasks LIST       comma-separated, from: ${DEFAULT_TASKS.join(", ")}
                     (default: all). wikitext = lm-eval's document-level rolling perplexity;
                     quamba_wikitext2 = Quamba's token perplexity over 2048-token windows
  --data DIR         task files in the layout of ../shared/data (default: the shipped samples,
                     ${SAMPLES})
  --limit N          only the first N documents of each task (N >= 1)
  --out DIR          write results.json (lm-eval layout) and results.arrow here (after each
                     task, so a failure keeps what is finished); a new or empty folder, or
                     one an earlier eval wrote
  --force            write into --out even if it holds files the kit did not write
  --ep NAME          cpu (default), webgpu, cuda
  --max-length N     lm-eval max_length and Quamba's window (default 2048)
  --batch-size N     rows per model run (default 16)
  --bootstrap-iters N  resamples for bootstrap stderr (default 100000, as lm-eval)
  --cache DIR        per-example results, so an interrupted run resumes
                     (default: $QUAMBA_KIT_CACHE/eval or ~/.cache/quamba-kit/eval)
  --no-cache         neither read nor write the cache
  --threads N        CPU threads per operator`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    model: { type: "string" },
    method: { type: "string" },
    tasks: { type: "string" },
    data: { type: "string" },
    limit: { type: "string" },
    out: { type: "string" },
    ep: { type: "string" },
    "max-length": { type: "string" },
    "batch-size": { type: "string" },
    "bootstrap-iters": { type: "string" },
    cache: { type: "string" },
    "no-cache": { type: "boolean" },
    threads: { type: "string" },
    calib: { type: "string" },
    samples: { type: "string" },
    percentile: { type: "string" },
    force: { type: "boolean" },
  }, USAGE);
  const tasks = (listOption(o.tasks, "tasks", DEFAULT_TASKS) ?? DEFAULT_TASKS).map(getTask);
  const modelDir = o.model ? userPath(o.model) : EMBEDDED_MODEL;
  // a saved quantized folder brings its own method
  const method = o.method ?? (await isQuantizedFolder(modelDir) ? undefined : "fp32");
  const ep = parseEp(o.ep ?? "cpu");
  const limit = o.limit === undefined ? null : intOption(o.limit, "limit", 0, { min: 1 });
  const config: RunConfig = {
    model: modelDir,
    method: method ?? "",
    ep,
    dataDir: o.data ? userPath(o.data) : SAMPLES,
    limit,
    maxLength: intOption(o["max-length"], "max-length", 2048, { min: 2 }),
    batchSize: intOption(o["batch-size"], "batch-size", 16, { min: 1 }),
    bootstrapIters: intOption(o["bootstrap-iters"], "bootstrap-iters", 100000, { min: 0 }),
  };
  const percentile = o.percentile === undefined ? undefined : numberOption(
    o.percentile,
    "percentile",
    99.999,
    { min: 90, max: 100, why: "Quamba uses 99.999" },
  );
  const samples = o.samples === undefined
    ? undefined
    : intOption(o.samples, "samples", 0, { min: 1 });
  const threads = threadsOption(o.threads);
  const calib = o.calib ? userPath(o.calib) : undefined;
  // every input and output is checked before any model runs
  const out = o.out === undefined ? undefined : await prepareOutputDir(userPath(o.out), "eval", {
    force: o.force,
    inputs: [modelDir, config.dataDir, ...(calib ? [calib] : [])],
  });
  await checkCacheDir();
  if (o.cache && !o["no-cache"]) await ensureWritableDir(userPath(o.cache), "--cache");
  await preloadTasks(modelDir, tasks.map((t) => t.name), config.dataDir, config.maxLength);
  const t0 = performance.now();
  const model = await openAnyModel(modelDir, {
    method,
    ep,
    threads,
    calibration: calib,
    samples,
    percentile,
  });
  config.method = model.method;
  console.error(
    `loaded ${model.source} (${model.method}, ${model.ep}) in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s; data: ${config.dataDir}`,
  );
  const cache = o["no-cache"] ? undefined : new EvalCache(
    // the percentile the model was quantized with (an architecture's default when not given:
    // 99.999 for Mamba, 99.9 for Jamba), so that caches of different percentiles never mix
    await modelKey(
      modelDir,
      methodKey(
        model.method,
        calib,
        samples,
        percentile ?? (model as { plan?: { percentile?: number } }).plan?.percentile,
      ),
      ep,
    ),
    o.cache ? userPath(o.cache) : undefined,
  );
  const results: TaskResult[] = [];
  try {
    for (const task of tasks) {
      const r = await evaluateTask(model, task, {
        dataDir: config.dataDir,
        limit: config.limit ?? undefined,
        maxLength: config.maxLength,
        batchSize: config.batchSize,
        bootstrapIters: config.bootstrapIters,
        cache,
      });
      if (r.format) console.error(`  ${task.name} data format: ${r.format}`);
      results.push(r);
      if (out) await writeResults(out, results, config);
    }
  } finally {
    await model.close();
    if (results.length) console.log(formatTable(results, model.method));
    if (out && results.length) {
      console.error(`wrote ${join(out, "results.json")} and ${join(out, "results.arrow")}`);
    }
  }
});

/** Loads every task's files once before any model runs, so a bad file fails first. */
async function preloadTasks(modelDir: string, names: string[], dataDir: string, maxLength: number) {
  const tokenizer = await loadTokenizer(modelDir);
  const env = { tokenizer, prefixId: prefixTokenId(tokenizer), maxLength };
  for (const name of names) await getTask(name).load(dataDir, env);
}
