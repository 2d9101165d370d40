/**
 * Results in lm-evaluation-harness's layout (`results`, `versions`, `n-shot`, `n-samples`,
 * `higher_is_better`, `configs`, `config`), as an Arrow table (one row per task and metric),
 * and as a text table like lm-eval's.
 */
import { Float64, Int32, Table as ArrowTable, Utf8, vectorFromArray } from "apache-arrow";
import { type Table, writeArrowFile } from "../arrow.ts";
import { writeFileAtomic } from "../fsutil.ts";
import type { TaskResult } from "./runner.ts";

/** How the run was made: lm-eval's `config` block plus the kit's own fields. */
export interface RunConfig {
  model: string;
  method: string;
  ep: string;
  dataDir: string;
  limit: number | null;
  maxLength: number;
  batchSize: number;
  bootstrapIters: number;
}

/**
 * The results JSON in lm-eval's layout; the kit's extras (data format, times, tokens/s) are
 * under `quamba_kit`.
 *
 * @example
 * ```ts
 * const json = lmEvalResults([await evaluateTask(model, piqa, { dataDir })], config);
 * json.results.piqa["acc,none"];
 * ```
 */
// deno-lint-ignore no-explicit-any
export function lmEvalResults(tasks: TaskResult[], config: RunConfig): Record<string, any> {
  const by = <T>(f: (t: TaskResult) => T) => Object.fromEntries(tasks.map((t) => [t.task, f(t)]));
  return {
    results: by((t) => {
      const r: Record<string, unknown> = { alias: t.task };
      for (const [m, v] of Object.entries(t.metrics)) {
        r[`${m},none`] = v.value;
        r[`${m}_stderr,none`] = v.stderr ?? "N/A";
      }
      return r;
    }),
    group_subtasks: by(() => []),
    configs: by((t) => ({
      task: t.task,
      dataset_path: t.dataset.path,
      dataset_name: t.dataset.name ?? null,
      test_split: t.dataset.split,
      output_type: t.outputType,
      num_fewshot: 0,
      metric_list: Object.entries(t.metrics).map(([m, v]) => ({
        metric: m,
        higher_is_better: v.higherIsBetter,
      })),
      metadata: { version: t.version },
      description: t.description,
    })),
    versions: by((t) => t.version),
    "n-shot": by(() => 0),
    higher_is_better: by((t) =>
      Object.fromEntries(Object.entries(t.metrics).map(([m, v]) => [m, v.higherIsBetter]))
    ),
    "n-samples": by((t) => ({ original: t.nOriginal, effective: t.nEffective })),
    config: {
      model: "quamba-kit",
      model_args: `pretrained=${config.model},method=${config.method}`,
      batch_size: config.batchSize,
      device: config.ep,
      limit: config.limit,
      bootstrap_iters: config.bootstrapIters,
      max_length: config.maxLength,
    },
    date: Date.now() / 1000,
    total_evaluation_time_seconds: String(tasks.reduce((a, t) => a + t.seconds, 0)),
    quamba_kit: {
      method: config.method,
      data_dir: config.dataDir,
      tasks: by((t) => ({
        files: t.files,
        format: t.format ?? null,
        requests: t.requests,
        from_cache: t.fromCache,
        seconds: t.seconds,
        tokens: t.tokens,
        tokens_per_second: t.tokensPerSecond,
      })),
    },
  };
}

/** One row per task and metric: task, version, metric, value, stderr (null if none), n, ... */
export function resultsTable(tasks: TaskResult[], config: RunConfig): Table {
  const rows = tasks.flatMap((t) =>
    Object.entries(t.metrics).map(([metric, v]) => ({ t, metric, v }))
  );
  return new ArrowTable({
    task: vectorFromArray(rows.map((r) => r.t.task), new Utf8()),
    version: vectorFromArray(rows.map((r) => r.t.version), new Float64()),
    metric: vectorFromArray(rows.map((r) => r.metric), new Utf8()),
    value: vectorFromArray(rows.map((r) => r.v.value), new Float64()),
    stderr: vectorFromArray(rows.map((r) => r.v.stderr), new Float64()),
    higher_is_better: vectorFromArray(rows.map((r) => String(r.v.higherIsBetter)), new Utf8()),
    n: vectorFromArray(rows.map((r) => r.t.nEffective), new Int32()),
    model: vectorFromArray(rows.map(() => config.model), new Utf8()),
    method: vectorFromArray(rows.map(() => config.method), new Utf8()),
    seconds: vectorFromArray(rows.map((r) => r.t.seconds), new Float64()),
  });
}

/** Writes `results.json` and `results.arrow` into `dir`, atomically; returns their paths. */
export async function writeResults(
  dir: string,
  tasks: TaskResult[],
  config: RunConfig,
): Promise<{ json: string; arrow: string }> {
  const json = `${dir}/results.json`, arrow = `${dir}/results.arrow`;
  await writeFileAtomic(json, JSON.stringify(lmEvalResults(tasks, config), null, 2) + "\n");
  await writeArrowFile(arrow, resultsTable(tasks, config), {
    model: config.model,
    method: config.method,
    made_by: "quamba-kit scripts/eval.ts",
  });
  return { json, arrow };
}

/** A Markdown table like lm-eval's, with the time and tokens/s of each task. */
export function formatTable(tasks: TaskResult[], method: string): string {
  const head = ["Tasks", "Version", "Method", "n", "Metric", "", "Value", "", "Stderr", "Time"];
  const rows: string[][] = [];
  for (const t of tasks) {
    Object.entries(t.metrics).forEach(([m, v], i) => {
      rows.push([
        i === 0 ? t.task : "",
        i === 0 ? String(t.version) : "",
        i === 0 ? method : "",
        i === 0 ? String(t.nEffective) : "",
        m,
        v.higherIsBetter ? "↑" : "↓",
        v.value.toFixed(4),
        "±",
        v.stderr === null ? "N/A" : v.stderr.toFixed(4),
        i === 0 ? `${t.seconds.toFixed(1)}s` : "",
      ]);
    });
  }
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => `|${r.map((x, c) => x.padEnd(w[c])).join("|")}|`;
  return [line(head), `|${w.map((n) => "-".repeat(n)).join("|")}|`, ...rows.map(line)].join("\n");
}
