/**
 * A small accuracy grid for the notebooks: one model, several methods, several tasks, each
 * evaluated on the first `limit` documents. Every int8 method is calibrated on the same samples,
 * whose statistics are collected once; quantized models land in the kit's cache, so a second
 * run skips quantization. The cells have the shape `accuracyRows` (lib/reproduce/tables.ts)
 * reads, so the table is the one `deno task reproduce` writes.
 *
 * @example
 * ```ts
 * const cells = await runMethodGrid({ methods: ["fp32", "quamba"], tasks: ["piqa"], limit: 20 });
 * showTable(accuracyRows(cells, ["fp32", "quamba"]));
 * ```
 * @module
 */
import { loadCalibration } from "../calibration.ts";
import { openCheckpoint } from "../checkpoint.ts";
import type { TaskResult } from "../eval/runner.ts";
import { evaluateTask } from "../eval/runner.ts";
import { getTask } from "../eval/tasks/index.ts";
import { KitError } from "../errors.ts";
import { loadModel, type Model } from "../model.ts";
import { DATA_DIR, DEFAULT_CALIBRATION, EMBEDDED_MODEL } from "../paths.ts";
import { Progress } from "../progress.ts";
import { METHOD_NAMES } from "../quant/methods.ts";
import { quantize } from "../quant/quantize.ts";
import type { Cell } from "../reproduce/grid.ts";
import { collectStats } from "../stats/collect.ts";
import type { StatsView } from "../stats/view.ts";
import { loadTokenizer } from "../tokenizer.ts";
import { join } from "node:path";

export interface MethodGridOptions {
  /** checkpoint folder (default: the embedded model) */
  model?: string;
  /** `fp32`, `fp16` and any int8 method of METHODS */
  methods: string[];
  /** task names (lib/eval/tasks) */
  tasks: string[];
  /** documents per task (default 0: all); a number, or one per task name */
  limit?: number | Record<string, number>;
  /** folder of task files (default: the shipped samples, data/tasks) */
  dataDir?: string;
  /** calibration samples and tokens per sample (defaults 32 and 512) */
  samples?: number;
  maxLen?: number;
  /** bootstrap resamples for standard errors (default 1000: quick) */
  bootstrapIters?: number;
  /** where quantized models and graphs are cached (default: the kit's cache) */
  cacheDir?: string;
  /** a progress line per finished cell on stderr (default true) */
  progress?: boolean;
}

/** One evaluated (method, task): the grid cell and lib/eval's result. */
export interface GridCell {
  cell: Cell;
  result: TaskResult;
}

/**
 * Evaluates every (method, task) of the grid on one model, method by method.
 *
 * @example
 * ```ts
 * const cells = await runMethodGrid({
 *   methods: ["fp32", "w8a8", "quamba"],
 *   tasks: ["piqa", "quamba_wikitext2"],
 *   limit: { piqa: 40, quamba_wikitext2: 4 },
 * });
 * ```
 */
export async function runMethodGrid(options: MethodGridOptions): Promise<GridCell[]> {
  const model = options.model ?? EMBEDDED_MODEL;
  const dataDir = options.dataDir ?? join(DATA_DIR, "tasks");
  for (const m of options.methods) {
    if (!METHOD_NAMES.includes(m)) {
      throw new KitError(`unknown method '${m}' (known: ${METHOD_NAMES.join(", ")})`);
    }
  }
  const tasks = options.tasks.map(getTask); // unknown tasks fail before any work
  const limitOf = (task: string) =>
    typeof options.limit === "object" ? options.limit[task] ?? 0 : options.limit ?? 0;
  const ckpt = await openCheckpoint(model);
  const calib = await loadCalibration(DEFAULT_CALIBRATION, await loadTokenizer(ckpt.dir), {
    samples: options.samples ?? 32,
    maxLen: options.maxLen ?? 512,
  });
  let stats: StatsView | undefined;
  const bar = options.progress === false
    ? undefined
    : new Progress("accuracy grid", options.methods.length * tasks.length, { every: 2 });
  const cells: GridCell[] = [];
  for (const method of options.methods) {
    let m: Model;
    if (method === "fp32" || method === "fp16") {
      m = await loadModel(model, { dtype: method, cacheDir: options.cacheDir });
    } else {
      stats ??= await collectStats(ckpt, calib, {
        cacheDir: options.cacheDir,
        progress: options.progress,
      });
      m = await quantize(model, {
        method,
        calibration: calib,
        stats,
        cacheDir: options.cacheDir,
        progress: options.progress,
      });
    }
    try {
      for (const task of tasks) {
        const result = await evaluateTask(m, task, {
          dataDir,
          limit: limitOf(task.name),
          bootstrapIters: options.bootstrapIters ?? 1000,
          progress: false,
        });
        cells.push({
          cell: { kind: "eval", model, method, task: task.name, id: `${method}--${task.name}` },
          result,
        });
        bar?.tick(1, `${method} ${task.name}`);
      }
    } finally {
      await m.close();
    }
  }
  bar?.done();
  return cells;
}
