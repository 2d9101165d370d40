/**
 * Zero-shot evaluation with lm-evaluation-harness semantics, and the two WikiText-2 perplexities.
 *
 *   deno task eval [--model DIR] [--method fp32|fp16|quamba|...] [--tasks a,b,...] [--data DIR] [--limit N]
 *                  [--out DIR] [--ep cpu|webgpu|cuda]
 */
import { join } from "node:path";
import { intOption, parseCli, runCli } from "../lib/cli.ts";
import { EvalCache, modelKey } from "../lib/eval/cache.ts";
import { openAnyModel } from "../lib/eval/open_model.ts";
import { formatTable, type RunConfig, writeResults } from "../lib/eval/results.ts";
import { evaluateTask, type TaskResult } from "../lib/eval/runner.ts";
import { getTask, TASKS } from "../lib/eval/tasks/index.ts";
import { DATA_DIR, EMBEDDED_MODEL } from "../lib/paths.ts";
import { parseEp } from "../lib/runtime.ts";
import { KitError } from "../lib/errors.ts";
import { METHODS } from "../lib/quant/methods.ts";
import { isQuantizedFolder } from "../lib/quant/quantize.ts";

/** What the cached results depend on besides the weights: the method and its calibration. */
function methodKey(method: string, calib?: string, samples?: number, percentile?: number): string {
  if (!METHODS[method]) return method;
  return `${method}@${calib ?? "default-calibration"}:${samples ?? "all"}:${percentile ?? 99.999}`;
}

const SAMPLES = join(DATA_DIR, "tasks");
const DEFAULT_TASKS = TASKS.map((t) => t.name);

const USAGE = `Evaluate a model: zero-shot tasks with lm-eval's rules, and perplexities.

usage: deno task eval [--model DIR] [--tasks LIST] [options]

  --model DIR        checkpoint folder (default: the embedded demo model)
  --model DIR        (or a quantized folder saved by deno task quantize)
  --method NAME      fp32 (default), fp16, or an int8 method: ${Object.keys(METHODS).join(", ")}
                     (the checkpoint is quantized first, calibrated on --calib, and cached)
  --calib FILE       calibration text for int8 methods (default: the shipped WikiText-2 sample)
  --samples N        calibration samples (default 512, or all the text holds)
  --percentile P     percentile of |u| for the clipping methods (default 99.999)
  --tasks LIST       comma-separated, from: ${DEFAULT_TASKS.join(", ")}
                     (default: all). wikitext = lm-eval's document-level rolling perplexity;
                     quamba_wikitext2 = Quamba's token perplexity over 2048-token windows
  --data DIR         task files in the layout of ../shared/data (default: the shipped samples,
                     ${SAMPLES})
  --limit N          only the first N documents of each task
  --out DIR          write results.json (lm-eval layout) and results.arrow here
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
  }, USAGE);
  const tasks = (o.tasks ?? DEFAULT_TASKS.join(",")).split(",").map((s) => s.trim()).filter(
    Boolean,
  ).map(getTask);
  const modelDir = o.model ?? EMBEDDED_MODEL;
  // a saved quantized folder brings its own method
  const method = o.method ?? (await isQuantizedFolder(modelDir) ? undefined : "fp32");
  const ep = parseEp(o.ep ?? "cpu");
  const config: RunConfig = {
    model: modelDir,
    method: method ?? "",
    ep,
    dataDir: o.data ?? SAMPLES,
    limit: intOption(o.limit, "limit", 0) || null,
    maxLength: intOption(o["max-length"], "max-length", 2048),
    batchSize: intOption(o["batch-size"], "batch-size", 16),
    bootstrapIters: intOption(o["bootstrap-iters"], "bootstrap-iters", 100000),
  };
  const t0 = performance.now();
  const percentile = o.percentile === undefined ? undefined : Number(o.percentile);
  if (percentile !== undefined && !(percentile > 0 && percentile <= 100)) {
    throw new KitError(`--percentile must be in (0, 100], got '${o.percentile}'`);
  }
  const samples = intOption(o.samples, "samples", 0) || undefined;
  const model = await openAnyModel(modelDir, {
    method,
    ep,
    threads: intOption(o.threads, "threads", 0) || undefined,
    calibration: o.calib,
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
    await modelKey(modelDir, methodKey(model.method, o.calib, samples, percentile), ep),
    o.cache,
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
    }
  } finally {
    await model.close();
  }
  console.log(formatTable(results, model.method));
  if (o.out) {
    const { json, arrow } = await writeResults(o.out, results, config);
    console.error(`wrote ${json} and ${arrow}`);
  }
});
