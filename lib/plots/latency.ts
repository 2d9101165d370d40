/** Figures of the latency benchmark: latency vs model size per method, and prefill scaling. */
import * as Plot from "@observablehq/plot";
import type { BenchRow } from "../bench/table.ts";
import type { Summary } from "../bench/latency.ts";
import { MAMBA_SHAPES } from "../synthetic.ts";
import { MAMBA2_SHAPES } from "../arch/mamba2/shapes.ts";
import { JAMBA_SHAPES } from "../arch/jamba/shapes.ts";
import { COLORS, figure, plotBlock, swatchBlock } from "./svg.ts";

const METHOD_COLORS: Record<string, string> = {
  fp32: COLORS.blue,
  fp16: COLORS.teal,
  quamba: COLORS.orange,
  w8a8: COLORS.red,
  "quamba-head8": COLORS.green,
  "quamba-nbits": COLORS.purple,
};
/** The colour of a method in the latency figures. */
export const colorOf = (m: string): string => METHOD_COLORS[m] ?? COLORS.gray;
/** Model names in the order of the families' sizes (unknown names last). */
export const sizeOrder = (names: string[]): string[] => {
  const known = [
    ...Object.keys(MAMBA_SHAPES),
    ...Object.keys(MAMBA2_SHAPES),
    ...Object.keys(JAMBA_SHAPES),
  ];
  const rank = (n: string) => known.includes(n) ? known.indexOf(n) : known.length;
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b));
};

/**
 * Label positions on a log axis at least `gap` px apart, in the order of the values (each label
 * as close to its own value as that allows).
 */
export function spreadLabels<T extends { mean: number }>(
  items: T[],
  domain: number[],
  heightPx: number,
  gap = 13,
): (T & { yLabel: number })[] {
  const step = gap / heightPx * Math.log10(domain[1] / domain[0]);
  const sorted = [...items].sort((a, b) => a.mean - b.mean);
  const logs = sorted.map((d) => Math.log10(d.mean));
  for (let i = 1; i < logs.length; i++) logs[i] = Math.max(logs[i], logs[i - 1] + step);
  return sorted.map((d, i) => ({ ...d, yLabel: 10 ** logs[i] }));
}

/**
 * TTFT, TPOT and TTLT (mean, with a tick at p90) against model size, one line per method, log y.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("latency.svg", latencyPlot(rows, { env: "AMD EPYC, 2 cores" }));
 * ```
 */
export function latencyPlot(
  rows: BenchRow[],
  options: {
    env?: string;
    settings?: { prompt: number; gen: number; repeats: number };
    width?: number;
    /** the method speed-ups are against (default fp32; fp16 on GPU EPs) */
    base?: string;
    /** the execution provider, for the title (default cpu) */
    ep?: string;
  } = {},
): string {
  const { width = 760, base: baseMethod = "fp32", ep = "cpu" } = options;
  const methods = [...new Set(rows.map((r) => r.method))];
  const models = sizeOrder(rows.map((r) => r.model));
  // rows in size order, so that each method's line runs from the smallest model to the largest
  const bySize = [...rows].sort((a, b) => models.indexOf(a.model) - models.indexOf(b.model));
  const panel = (label: string, get: (r: BenchRow) => Summary, unit = 1) => {
    const data = bySize.map((r) => {
      const base = rows.find((b) => b.model === r.model && b.method === baseMethod);
      const mean = get(r).mean / unit;
      const speedup = base && r.method !== baseMethod ? (get(base).mean / unit) / mean : undefined;
      const v = mean >= 100 ? mean.toFixed(0) : mean.toPrecision(3);
      return {
        model: r.model,
        method: r.method,
        mean,
        p90: get(r).p90 / unit,
        label: speedup ? `${v} (${speedup.toFixed(2)}x)` : v,
      };
    });
    const ys = data.flatMap((d) => [d.mean, d.p90]).filter((y) => y > 0);
    const domain = [Math.min(...ys) / 1.4, Math.max(...ys) * 1.4];
    const labels = spreadLabels(
      data.filter((d) => d.model === models[models.length - 1]),
      domain,
      190 - 50,
    );
    return plotBlock({
      width,
      height: 190,
      marginLeft: 60,
      marginRight: 150,
      x: { type: "point", domain: models, label: null, padding: 0.4 },
      y: {
        type: "log",
        label,
        grid: true,
        domain,
        labelAnchor: "center",
        labelArrow: "none",
      },
      color: { domain: methods, range: methods.map(colorOf) },
      marks: [
        Plot.line(data, { x: "model", y: "mean", stroke: "method", z: "method", strokeWidth: 2 }),
        Plot.dot(data, { x: "model", y: "mean", fill: "method", r: 3.5 }),
        Plot.dot(data, { x: "model", y: "p90", stroke: "method", symbol: "times", r: 3 }),
        Plot.text(labels, {
          x: "model",
          y: "yLabel",
          text: "label",
          dx: 10,
          textAnchor: "start",
          fill: "method",
        }),
      ],
    });
  };
  const s = options.settings;
  return figure({
    title: `Generation latency vs model size, float vs quantized (${
      { cpu: "CPU", webgpu: "WebGPU", cuda: "CUDA" }[ep] ?? ep
    })`,
    subtitle: (s
      ? `prompt ${s.prompt}, ${s.gen} generated tokens, mean of ${s.repeats} (tick: p90). `
      : "") +
      (options.env ?? ""),
    blocks: [
      swatchBlock(methods.map((m) => ({ label: m, color: colorOf(m) }))),
      panel("TTFT (ms, log)", (r) =>
        r.latency.ttft),
      panel("TPOT (ms per token, log)", (r) => r.latency.tpot),
      panel("TTLT (s, log)", (r) => r.latency.ttlt, 1000),
    ],
    caption: `Labels: mean at the largest size (speed-up over ${baseMethod}). ` +
      "TTFT: prefill of the prompt to the first token. TPOT: one decode step. " +
      "TTLT: prefill and all decode steps. Synthetic rows: seeded random weights of the shape.",
  });
}

/**
 * TTFT against prompt length (log-log) per model and method, with a dashed line of slope 1
 * (linear scaling) through each series' shortest prompt.
 *
 * @example
 * ```ts
 * scalingPlot([{ model: "mamba-130m", method: "fp32", prompt: 128, ttft }]);
 * ```
 */
export function scalingPlot(
  rows: { model: string; method: string; prompt: number; ttft: Summary }[],
  options: { env?: string; width?: number } = {},
): string {
  const { width = 760 } = options;
  const oneModel = new Set(rows.map((r) => r.model)).size === 1;
  const data = rows.map((r) => ({
    series: oneModel ? r.method : `${r.model} ${r.method}`,
    method: r.method,
    prompt: r.prompt,
    ms: r.ttft.mean,
  }));
  const series = [...new Set(data.map((d) => d.series))];
  const linear = series.flatMap((s) => {
    const pts = data.filter((d) => d.series === s).sort((a, b) => a.prompt - b.prompt);
    return pts.map((p) => ({
      series: s,
      prompt: p.prompt,
      ms: pts[0].ms * p.prompt / pts[0].prompt,
    }));
  });
  const palette = [COLORS.blue, COLORS.orange, COLORS.green, COLORS.red, COLORS.teal, COLORS.gray];
  const color = { domain: series, range: series.map((_, i) => palette[i % palette.length]) };
  return figure({
    title: `Prefill time vs prompt length${oneModel ? ` (${rows[0].model})` : ""}`,
    subtitle: options.env,
    blocks: [
      swatchBlock(series.map((s, i) => ({ label: s, color: color.range[i] }))),
      plotBlock({
        width,
        height: 320,
        marginLeft: 60,
        x: {
          type: "log",
          label: "prompt tokens (log)",
          ticks: [...new Set(data.map((d) => d.prompt))],
          tickFormat: "d",
          labelAnchor: "center",
          labelArrow: "none",
        },
        y: {
          type: "log",
          label: "TTFT (ms, log)",
          grid: true,
          labelAnchor: "center",
          labelArrow: "none",
        },
        color,
        marks: [
          Plot.line(linear, {
            x: "prompt",
            y: "ms",
            stroke: "series",
            z: "series",
            strokeDasharray: "4,3",
            strokeOpacity: 0.6,
          }),
          Plot.line(data, { x: "prompt", y: "ms", stroke: "series", z: "series", strokeWidth: 2 }),
          Plot.dot(data, { x: "prompt", y: "ms", fill: "series", r: 3.5 }),
        ],
      }),
    ],
    caption: "Dashed: linear scaling from the shortest prompt (slope 1 on log-log axes).",
  });
}
