/**
 * Figures of what quantization changes (lib/quality/): the distribution of per-token KL from the
 * fp32 model per method, the KL by position in the window, the per-tensor sensitivity heat map
 * and the percentile / Hadamard ablation curves. Intervals are the 95% cluster-bootstrap ones.
 */
import * as Plot from "@observablehq/plot";
import { basename } from "node:path";
import { KitError } from "../errors.ts";
import type { Comparison } from "../quality/compare.ts";
import type { AblationRow, SensitivityRow } from "../quality/sensitivity.ts";
import { fmt, logTicks, pow10Label } from "./data.ts";
import { logLegend } from "./heatmap.ts";
import { COLORS, figure, plotBlock, swatchBlock } from "./svg.ts";

const PALETTE: Record<string, string> = {
  fp16: COLORS.gray,
  w8a8: COLORS.blue,
  quamba: COLORS.red,
  "quamba-clip": COLORS.orange,
  "quamba-hadamard": COLORS.purple,
  smoothquant: COLORS.teal,
  quarot: COLORS.green,
  dynamic: "#9c755f",
};
const EXTRA = ["#edc949", "#ff9da7", "#bab0ab", "#17becf"];

/**
 * A colour per method (the kit's methods fixed, others from a spare palette).
 *
 * @example
 * ```ts
 * qualityColors(["w8a8", "quamba"]); // ["#4e79a7", "#e15759"]
 * ```
 */
export function qualityColors(methods: string[]): string[] {
  let k = 0;
  return methods.map((m) => PALETTE[m] ?? EXTRA[k++ % EXTRA.length]);
}

/** Methods whose per-token KL is not all zero (a log axis cannot show the others). */
function nonZero(c: Comparison) {
  return c.methods.filter((m) => m.perToken.kl.some((v) => v > 0));
}

function zeroNote(c: Comparison): string {
  const zero = c.methods.filter((m) => !m.perToken.kl.some((v) => v > 0)).map((m) => m.method);
  return zero.length ? ` ${zero.join(", ")}: KL exactly 0 at every token (not drawn).` : "";
}

function sourceNote(c: Comparison): string {
  return `${c.tokens} tokens of ${basename(c.text)} in ${c.windows} windows of ${c.window}; ` +
    `intervals: 95% bootstrap over windows (${c.bootstrap.resamples} draws, seed ${c.bootstrap.seed}).`;
}

/**
 * The share of tokens whose KL(fp32 ‖ method) exceeds x, per method, on log–log axes: the whole
 * distribution, tail included, with each method's mean marked.
 *
 * @example
 * ```ts
 * const svg = klDistributionPlot(await compareMethods(fp, ["w8a8", "quamba"], { ids }));
 * ```
 */
export function klDistributionPlot(c: Comparison, options: { width?: number } = {}): string {
  const width = options.width ?? 760;
  const shown = nonZero(c);
  if (!shown.length) throw new KitError("klDistributionPlot: every method's KL is 0");
  const methods = shown.map((m) => m.method), colors = qualityColors(methods);
  const points = shown.flatMap((m) => {
    const kl = Float64Array.from(m.perToken.kl.filter((v) => v > 0)).sort();
    const n = m.perToken.kl.length, out = [];
    // about 400 points per curve, denser in the tail
    for (let j = 0; j < 400; j++) {
      const k = Math.min(kl.length - 1, Math.floor(kl.length * (1 - 10 ** (-4 * j / 399))));
      out.push({ method: m.method, x: kl[k], share: (kl.length - k) / n });
    }
    return out;
  });
  const means = shown.map((m) => ({ method: m.method, x: m.kl.mean.value }));
  const xs = points.map((p) => p.x);
  const plot = plotBlock({
    width,
    height: 360,
    marginLeft: 60,
    x: {
      type: "log",
      // from the 0.5th percentile of all drawn values: a few near-zero tokens would squeeze the rest
      domain: [Math.max(1e-9, xs.sort((a, b) => a - b)[Math.floor(0.005 * xs.length)]), xs.at(-1)!],
      label: "KL(fp32 ‖ method) of a token, nats (log scale)",
      tickFormat: pow10Label,
      labelAnchor: "center",
      labelArrow: "none",
      grid: true,
    },
    y: {
      type: "log",
      domain: [1 / c.tokens, 1],
      label: "share of tokens with a larger KL (log scale)",
      tickFormat: pow10Label,
      labelAnchor: "center",
      labelArrow: "none",
      grid: true,
    },
    color: { domain: methods, range: colors },
    marks: [
      Plot.line(points, { x: "x", y: "share", stroke: "method", strokeWidth: 2, clip: true }),
      Plot.ruleX(means, { x: "x", stroke: "method", strokeDasharray: "4,3", strokeOpacity: 0.8 }),
    ],
  });
  return figure({
    title: "How far each method's next-token distributions are from fp32",
    subtitle: "Per token: KL(fp32 ‖ method) over the full vocabulary. A curve further left is " +
      "closer to fp32; dashed: each method's mean KL.",
    blocks: [swatchBlock(methods.map((label, i) => ({ label, color: colors[i] }))), plot],
    caption: sourceNote(c) + zeroNote(c),
  });
}

/**
 * Mean KL(fp32 ‖ method) by position in the window (buckets 0, 1, 2–3, 4–7, ...), with 95%
 * intervals: whether the error grows as the state accumulates.
 *
 * @example
 * ```ts
 * const svg = klByPositionPlot(comparison);
 * ```
 */
export function klByPositionPlot(c: Comparison, options: { width?: number } = {}): string {
  const width = options.width ?? 760;
  const shown = nonZero(c);
  if (!shown.length) throw new KitError("klByPositionPlot: every method's KL is 0");
  const methods = shown.map((m) => m.method), colors = qualityColors(methods);
  const label = (b: { from: number; to: number }) =>
    b.to - b.from === 1 ? String(b.from) : `${b.from}–${b.to - 1}`;
  const buckets = shown[0].byPosition.map(label);
  const rows = shown.flatMap((m) =>
    m.byPosition.map((b) => ({
      method: m.method,
      bucket: label(b),
      value: b.kl.value,
      lo: Math.max(b.kl.lo, 1e-12),
      hi: b.kl.hi,
    }))
  );
  const plot = plotBlock({
    width,
    height: 340,
    marginLeft: 60,
    x: {
      domain: buckets,
      label: "position in the window (tokens since the start)",
      labelAnchor: "center",
      labelArrow: "none",
    },
    y: {
      type: "log",
      label: "mean KL, nats (log scale)",
      tickFormat: pow10Label,
      labelAnchor: "center",
      labelArrow: "none",
      grid: true,
      nice: true,
    },
    color: { domain: methods, range: colors },
    marks: [
      Plot.ruleX(rows, {
        x: "bucket",
        y1: "lo",
        y2: "hi",
        stroke: "method",
        strokeWidth: 1.5,
        dx: 0,
      }),
      Plot.line(rows, { x: "bucket", y: "value", stroke: "method", strokeWidth: 1.5 }),
      Plot.dot(rows, { x: "bucket", y: "value", fill: "method", r: 3 }),
    ],
  });
  return figure({
    title: "KL from fp32 by position in the window",
    subtitle: "Each window starts from a zero state; the bars are 95% intervals of the mean KL " +
      "of the tokens at those positions.",
    blocks: [swatchBlock(methods.map((label, i) => ({ label, color: colors[i] }))), plot],
    caption: sourceNote(c) + zeroNote(c),
  });
}

/**
 * The mean KL each group of points adds when quantized alone in one layer, as a heat map of
 * layers × groups on a log colour scale.
 *
 * @example
 * ```ts
 * const svg = sensitivityHeatmap(await sensitivity(src, { ids }));
 * ```
 */
export function sensitivityHeatmap(
  rows: SensitivityRow[],
  options: { width?: number; note?: string } = {},
): string {
  const width = options.width ?? 900;
  if (!rows.length) throw new KitError("sensitivityHeatmap: no rows");
  const groups = [...new Set(rows.map((r) => r.group))];
  const layers = [...new Set(rows.map((r) => r.layer))].sort((a, b) => a - b);
  const cells = rows.map((r) => ({
    layer: r.layer,
    group: r.group,
    value: Math.max(r.kl.value, 0),
  }));
  const positive = cells.map((r) => r.value).filter((v) => v > 0);
  const domain: [number, number] = [Math.min(...positive), Math.max(...positive)];
  const t = (v: number) => Math.log(v / domain[0]) / Math.log(domain[1] / domain[0] || 2);
  const cell = layers.length <= 16 ? 30 : Math.max(6, Math.floor(520 / layers.length));
  const plot = plotBlock({
    width,
    height: layers.length * cell + 8 + 84,
    marginTop: 8,
    marginBottom: 84,
    marginLeft: 60,
    padding: 0.04,
    x: { domain: groups, label: null, tickRotate: -35, axis: "bottom" },
    y: { domain: layers, label: "layer", labelAnchor: "center", labelArrow: "none" },
    color: { type: "log", domain, scheme: "YlOrRd" },
    marks: [
      Plot.cell(cells.filter((r) => r.value > 0), { x: "group", y: "layer", fill: "value" }),
      layers.length <= 16
        ? Plot.text(cells, {
          x: "group",
          y: "layer",
          text: (d: { value: number }) => fmt(d.value),
          fontSize: 9,
          fill: (d: { value: number }) => (d.value > 0 && t(d.value) > 0.6 ? "white" : "#222"),
        })
        : null,
    ],
  });
  return figure({
    title: "Per-tensor sensitivity: the KL from fp32 that each quantized tensor adds alone",
    subtitle: "One group of one layer quantized to int8 at a time, everything else float32 " +
      "(max scales as in W8A8; the last two columns: u with Quamba's percentile scale, y after " +
      "its Hadamard rotation). Mean KL(fp32 ‖ variant) per token, nats.",
    blocks: [
      logLegend(
        domain,
        "mean KL, nats (log colour scale)",
        Math.min(360, width),
        legendTicks(domain),
      ),
      plot,
    ],
    caption: options.note,
  });
}

/** 1-2-5 ticks over at most three decades, else powers of ten only (labels must not overlap). */
function legendTicks(domain: [number, number]): number[] {
  const decades = Math.log10(domain[1] / domain[0]);
  if (decades <= 3) return logTicks(domain);
  const out = [];
  for (let e = Math.ceil(Math.log10(domain[0])); e <= Math.floor(Math.log10(domain[1])); e++) {
    out.push(10 ** e);
  }
  return out;
}

/**
 * Quamba's ablation: mean KL of the whole method against the percentile of |u| that sets u's
 * scale, with and without the Hadamard rotation of y, with 95% intervals.
 *
 * @example
 * ```ts
 * const svg = ablationPlot(await percentileAblation(src, { ids }));
 * ```
 */
export function ablationPlot(
  rows: AblationRow[],
  options: { width?: number; note?: string } = {},
): string {
  const width = options.width ?? 760;
  if (!rows.length) throw new KitError("ablationPlot: no rows");
  const label = (p: number | "absmax") => (p === "absmax" ? "absmax" : String(p));
  const xs = [...new Set(rows.map((r) => label(r.percentile)))];
  const series = (h: boolean) => (h ? "Hadamard on y (quamba)" : "no rotation (quamba-clip)");
  const data = rows.map((r) => ({
    x: label(r.percentile),
    series: series(r.hadamard),
    value: r.kl.value,
    lo: r.kl.lo,
    hi: r.kl.hi,
  }));
  const domainS = [series(false), series(true)], colors = [COLORS.blue, COLORS.red];
  const plot = plotBlock({
    width,
    height: 340,
    marginLeft: 60,
    x: {
      domain: xs,
      label:
        "percentile of |u| that sets u's scale (EMA over samples; absmax: w8a8 / quamba-hadamard)",
      labelAnchor: "center",
      labelArrow: "none",
    },
    y: {
      type: "log",
      label: "mean KL from fp32, nats (log scale)",
      tickFormat: (v: number) => (pow10Label(v) || (/^[125]/.test(v.toPrecision(1)) ? fmt(v) : "")),
      labelAnchor: "center",
      labelArrow: "none",
      grid: true,
      nice: true,
    },
    color: { domain: domainS, range: colors },
    marks: [
      Plot.ruleX(data, { x: "x", y1: "lo", y2: "hi", stroke: "series", strokeWidth: 1.5 }),
      Plot.line(data.filter((d) => d.x !== "absmax"), {
        x: "x",
        y: "value",
        stroke: "series",
        strokeWidth: 1.5,
      }),
      Plot.dot(data, { x: "x", y: "value", fill: "series", r: 3.5 }),
    ],
  });
  return figure({
    title: "Ablation: clipping u (percentile) and rotating y (Hadamard), against KL",
    subtitle: "The whole method quantized (every point), u's scale from each percentile; the " +
      "gap between the curves is what the rotation of y buys, the slope what clipping u buys.",
    blocks: [swatchBlock(domainS.map((l, i) => ({ label: l, color: colors[i] }))), plot],
    caption: options.note,
  });
}
