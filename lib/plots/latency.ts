/** Figures of the latency benchmark: latency vs model size per method, and prefill scaling. */
import * as Plot from "@observablehq/plot";
import type { BenchRow } from "../bench/table.ts";
import type { Summary } from "../bench/latency.ts";
import { MAMBA_SHAPES } from "../synthetic.ts";
import { COLORS, figure, plotBlock, swatchBlock } from "./svg.ts";

const METHOD_COLORS: Record<string, string> = {
  fp32: COLORS.blue,
  fp16: COLORS.teal,
  quamba: COLORS.orange,
  w8a8: COLORS.red,
  "quamba-head8": COLORS.green,
};
const colorOf = (m: string) => METHOD_COLORS[m] ?? COLORS.gray;
const sizeOrder = (names: string[]) => {
  const known = Object.keys(MAMBA_SHAPES);
  const rank = (n: string) => known.includes(n) ? known.indexOf(n) : known.length;
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b));
};

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
  } = {},
): string {
  const { width = 760 } = options;
  const methods = [...new Set(rows.map((r) => r.method))];
  const models = sizeOrder(rows.map((r) => r.model));
  const panel = (label: string, get: (r: BenchRow) => Summary, unit = 1) => {
    const data = rows.map((r) => ({
      model: r.model,
      method: r.method,
      mean: get(r).mean / unit,
      p90: get(r).p90 / unit,
    }));
    return plotBlock({
      width,
      height: 200,
      marginLeft: 60,
      marginRight: 90,
      x: { type: "point", domain: models, label: null, padding: 0.3 },
      y: { type: "log", label, grid: true, nice: true, labelAnchor: "center", labelArrow: "none" },
      color: { domain: methods, range: methods.map(colorOf) },
      marks: [
        Plot.line(data, { x: "model", y: "mean", stroke: "method", strokeWidth: 2 }),
        Plot.dot(data, { x: "model", y: "mean", fill: "method", r: 3.5 }),
        Plot.dot(data, { x: "model", y: "p90", stroke: "method", symbol: "times", r: 3 }),
        Plot.text(data.filter((d) => d.model === models[models.length - 1]), {
          x: "model",
          y: "mean",
          text: (d) => d.mean >= 100 ? d.mean.toFixed(0) : d.mean.toPrecision(3),
          dx: 8,
          textAnchor: "start",
          fill: "method",
        }),
      ],
    });
  };
  const s = options.settings;
  return figure({
    title: "Generation latency vs model size, float vs int8",
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
    caption: "TTFT: prefill of the prompt to the first token. TPOT: one decode step. " +
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
  const data = rows.map((r) => ({
    series: `${r.model} ${r.method}`,
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
    title: "Prefill time vs prompt length",
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
            strokeDasharray: "4,3",
            strokeOpacity: 0.6,
          }),
          Plot.line(data, { x: "prompt", y: "ms", stroke: "series", strokeWidth: 2 }),
          Plot.dot(data, { x: "prompt", y: "ms", fill: "series", r: 3.5 }),
        ],
      }),
    ],
    caption: "Dashed: linear scaling from the shortest prompt (slope 1 on log-log axes).",
  });
}
