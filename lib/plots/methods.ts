/**
 * Figures of the methods side by side (notebooks/03_accuracy.ipynb, 04_latency.ipynb): accuracy
 * per task with standard errors, perplexity relative to fp32, and latency per method.
 */
import * as Plot from "@observablehq/plot";
import type { TaskResult } from "../eval/runner.ts";
import { KitError } from "../errors.ts";
import { ACCURACY_COLUMNS } from "../reproduce/tables.ts";
import { fmt } from "./data.ts";
import { type Block, COLORS, figure, plotBlock, swatchBlock, textBlock } from "./svg.ts";

/** What the accuracy figure reads of a grid cell (lib/notebook/method_grid.ts, or reproduce's cells). */
export interface MethodCell {
  cell: { method?: string; task?: string };
  result?: Pick<TaskResult, "metrics" | "nEffective">;
}

/** fp32 and fp16 in gray, Quamba in red, the rest in the figure palette. */
function methodColor(method: string): string {
  if (method === "quamba") return COLORS.red;
  if (method.startsWith("fp")) return COLORS.gray;
  if (method.startsWith("quamba")) return COLORS.orange;
  if (method === "w8a8") return COLORS.blue;
  return COLORS.teal;
}

/**
 * Accuracy per task and method (dots, ±1 standard error) in small multiples, and the change of
 * a perplexity against fp32 per method (bars).
 *
 * @example
 * ```ts
 * const cells = await runMethodGrid({ methods, tasks, limit: 40 });
 * showSvg(methodsAccuracyPlot(cells, methods));
 * ```
 */
export function methodsAccuracyPlot(
  cells: MethodCell[],
  methods: string[],
  options: {
    perplexity?: { task: string; metric: string; label: string };
    width?: number;
    subtitle?: string;
  } = {},
): string {
  const width = options.width ?? 760;
  const ppl = options.perplexity ??
    { task: "quamba_wikitext2", metric: "token_perplexity", label: "WikiText-2 token perplexity" };
  const get = (method: string, task: string) =>
    cells.find((c) => c.cell.method === method && c.cell.task === task)?.result;
  const points = ACCURACY_COLUMNS.flatMap((col) =>
    methods.flatMap((method) => {
      const r = get(method, col.task), m = r?.metrics[col.metric];
      if (!m) return [];
      const se = m.stderr ?? 0;
      return [{
        method,
        task: `${col.header} (n=${r!.nEffective})`,
        value: m.value,
        lo: m.value - se,
        hi: m.value + se,
      }];
    })
  );
  const blocks: Block[] = [];
  if (points.length) {
    const tasks = [...new Set(points.map((p) => p.task))];
    const cols = Math.min(3, tasks.length);
    const fx = (d: { task: string }) => tasks.indexOf(d.task) % cols;
    const fy = (d: { task: string }) => Math.floor(tasks.indexOf(d.task) / cols);
    const rows = Math.ceil(tasks.length / cols);
    blocks.push(plotBlock({
      width,
      height: rows * (methods.length * 15 + 50) + 40,
      marginLeft: 110,
      marginTop: 22,
      fx: { axis: null, padding: 0.08 },
      fy: { axis: null, padding: 0.18 },
      x: {
        domain: [0, Math.max(0.6, ...points.map((p) => p.hi))],
        nice: true,
        label: "accuracy (±1 standard error)",
        labelAnchor: "center",
        labelArrow: "none",
      },
      y: { domain: methods, label: null },
      color: { domain: methods, range: methods.map(methodColor) },
      marks: [
        Plot.frame({ stroke: "#ddd" }),
        Plot.ruleY(points, { fx, fy, y: "method", stroke: "#eee" }),
        Plot.ruleY(points, { fx, fy, y: "method", x1: "lo", x2: "hi", stroke: "method" }),
        Plot.dot(points, { fx, fy, y: "method", x: "value", fill: "method", r: 3.5 }),
        Plot.text(tasks.map((task) => ({ task })), {
          fx,
          fy,
          text: "task",
          frameAnchor: "top",
          dy: -14,
          fontWeight: "bold",
          fill: "#222",
        }),
      ],
    }));
  }
  const base = get("fp32", ppl.task)?.metrics[ppl.metric]?.value;
  const bars = methods.flatMap((method) => {
    const v = get(method, ppl.task)?.metrics[ppl.metric]?.value;
    return v === undefined || base === undefined
      ? []
      : [{ method, value: v, change: 100 * (v / base - 1) }];
  });
  if (bars.length) {
    blocks.push(
      textBlock(`${ppl.label}: change against fp32 (${fmt(base!)}), lower is better`, width, {
        fontSize: 12,
        bold: true,
        color: "#222",
      }),
      plotBlock({
        width,
        height: bars.length * 22 + 50,
        marginLeft: 110,
        marginRight: 70,
        x: {
          label: "perplexity change vs fp32 (%)",
          labelAnchor: "center",
          labelArrow: "none",
          grid: true,
          domain: padded(bars.map((d) => d.change)),
        },
        y: { domain: methods, label: null },
        marks: [
          Plot.barX(bars, { y: "method", x: "change", fill: (d) => methodColor(d.method) }),
          Plot.ruleX([0], { stroke: "#333" }),
          ...[true, false].map((positive) =>
            Plot.text(bars.filter((d) => (d.change >= 0) === positive), {
              y: "method",
              x: "change",
              text: (d) => `${d.change >= 0 ? "+" : ""}${d.change.toFixed(2)}% (${fmt(d.value)})`,
              textAnchor: positive ? "start" : "end",
              dx: positive ? 4 : -4,
              fill: "#333",
            })
          ),
        ],
      }),
    );
  }
  if (!blocks.length) throw new KitError("methodsAccuracyPlot: no results for these methods");
  return figure({
    title: "Accuracy and perplexity per quantization method",
    subtitle: options.subtitle,
    blocks: [
      swatchBlock([
        { label: "floating point", color: COLORS.gray },
        { label: "Quamba", color: COLORS.red },
        { label: "Quamba ablations", color: COLORS.orange },
        { label: "naive W8A8", color: COLORS.blue },
        { label: "other baselines", color: COLORS.teal },
      ]),
      ...blocks,
    ],
  });
}

/** [min, max] of the values and 0, widened by 45% of the span each side (room for labels). */
function padded(values: number[]): [number, number] {
  const lo = Math.min(0, ...values), hi = Math.max(0, ...values), pad = 0.45 * (hi - lo || 1);
  return [lo < 0 ? lo - pad : 0, hi > 0 ? hi + pad : 0];
}

/** A latency row: the model, the method and the median times (ms). */
export interface LatencyRow {
  model: string;
  method: string;
  "TTFT ms": number;
  "TPOT ms": number;
  [k: string]: string | number | null;
}

/**
 * Time to first token (prefill of the prompt) and time per output token (one decode step) per
 * method, one pair of bar charts per model (each on its own scale).
 *
 * @example
 * ```ts
 * showSvg(methodsLatencyPlot(rows, { subtitle: "CPU EP, prompt 128 tokens" }));
 * ```
 */
export function methodsLatencyPlot(
  rows: LatencyRow[],
  options: { width?: number; subtitle?: string } = {},
): string {
  if (!rows.length) throw new KitError("methodsLatencyPlot: no rows");
  const width = options.width ?? 760;
  const models = [...new Set(rows.map((r) => r.model))];
  const blocks: Block[] = [];
  for (const model of models) {
    const mine = rows.filter((r) => r.model === model);
    const methods = mine.map((r) => r.method);
    const fp = mine.find((r) => r.method === "fp32");
    for (const metric of ["TTFT ms", "TPOT ms"] as const) {
      const what = metric === "TTFT ms"
        ? "TTFT: time to first token (prefill)"
        : "TPOT: time per output token (decode step)";
      blocks.push(
        textBlock(`${model} — ${what}`, width, { fontSize: 12, bold: true, color: "#222" }),
        plotBlock({
          width,
          height: Math.max(90, methods.length * 22 + 40),
          marginLeft: 120,
          marginRight: 90,
          x: { label: "ms (median)", labelAnchor: "center", labelArrow: "none", grid: true },
          y: { domain: methods, label: null },
          marks: [
            Plot.barX(mine, { y: "method", x: metric, fill: (d) => methodColor(d.method) }),
            Plot.text(mine, {
              y: "method",
              x: metric,
              text: (d: LatencyRow) =>
                `${fmt(d[metric])} ms` +
                (fp && d.method !== "fp32" ? ` (${fmt(fp[metric] / d[metric])}×)` : ""),
              textAnchor: "start",
              dx: 4,
              fill: "#333",
            }),
            Plot.ruleX([0], { stroke: "#333" }),
          ],
        }),
      );
    }
  }
  return figure({
    title: "Latency per method: fp32 vs int8",
    subtitle: options.subtitle ??
      "Median times; in parentheses the speed-up over fp32 (above 1× is faster).",
    blocks,
  });
}
