/**
 * The grid of work `deno task reproduce` does, as independent cells with stable ids: statistics
 * per model, a quantized folder per (model, method), the quality comparison with fp32 and the
 * per-tensor sensitivity per model, an evaluation per (model, method, task) and a latency
 * measurement per (model, method). A cell's result is one JSON file; a cell whose file
 * exists is done, which makes runs resumable and lets shards of one grid run on many machines.
 */
import { basename, resolve } from "node:path";
import { KitError } from "../errors.ts";

export type CellKind = "stats" | "quantize" | "quality" | "sensitivity" | "eval" | "latency";

/** One unit of work. */
export interface Cell {
  kind: CellKind;
  /** Checkpoint folder. */
  model: string;
  method?: string;
  task?: string;
  /** Stable id: the cell's result file is `cells/<id>.json`. */
  id: string;
}

/** A short, file-name-safe name of a model folder. */
export function modelName(dir: string): string {
  return basename(resolve(dir)).replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * Every cell of a grid, in a deterministic order (models, then per model: statistics,
 * quantization, quality, sensitivity, evaluation, latency). `quality` (a method other than fp32
 * to compare) and `sensitivity` cells are on unless turned off in `options`.
 *
 * @example
 * ```ts
 * gridCells(["data/models/embedded"], ["fp32", "quamba"], ["piqa"]).map((c) => c.id);
 * // stats--embedded, quantize--embedded--quamba, eval--embedded--fp32--piqa, ...
 * ```
 */
export function gridCells(
  models: string[],
  methods: string[],
  tasks: string[],
  options: { quality?: boolean; sensitivity?: boolean } = {},
): Cell[] {
  const out: Cell[] = [];
  for (const model of models) {
    const m = modelName(model);
    out.push({ kind: "stats", model, id: `stats--${m}` });
    for (const method of methods) {
      if (method !== "fp32" && method !== "fp16") {
        out.push({ kind: "quantize", model, method, id: `quantize--${m}--${method}` });
      }
    }
    if ((options.quality ?? true) && methods.some((x) => x !== "fp32")) {
      out.push({ kind: "quality", model, id: `quality--${m}` });
    }
    if (options.sensitivity ?? true) {
      out.push({ kind: "sensitivity", model, id: `sensitivity--${m}` });
    }
    for (const method of methods) {
      for (const task of tasks) {
        out.push({ kind: "eval", model, method, task, id: `eval--${m}--${method}--${task}` });
      }
    }
    for (const method of methods) {
      out.push({ kind: "latency", model, method, id: `latency--${m}--${method}` });
    }
  }
  return out;
}

/** `--shard i/n` (0 <= i < n): which slice of the grid this run takes. */
export function parseShard(text: string | undefined): { index: number; count: number } {
  if (text === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]), count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) {
    throw new KitError(
      `--shard must be i/n with 0 <= i < n (e.g. 0/4 for the first of 4), got '${text}'`,
    );
  }
  return { index, count };
}

/** The cells of one shard: every n-th cell starting at i, so shards get similar mixes of work. */
export function shardCells(cells: Cell[], shard: { index: number; count: number }): Cell[] {
  return cells.filter((_, k) => k % shard.count === shard.index);
}
