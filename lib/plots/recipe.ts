/**
 * Figures of notebooks/02_recipe.ipynb, from values held in memory (lib/notebook/recipe_demo.ts): the
 * distribution of |x| with its clipping bounds, the quantization error per magnitude, per-channel
 * absmax, and a sweep of clipping percentiles.
 */
import * as Plot from "@observablehq/plot";
import { absmax, scaleOf } from "../quant/int8.ts";
import {
  channelAbsmax,
  clippingSweep,
  errorByMagnitude,
  fakeQuantize,
  type LayerActivations,
  type MagnitudeBin,
  percentileAbs,
  quantizationError,
  rotatedQuantization,
  type SweepRow,
} from "../notebook/recipe_demo.ts";
import { fmt, logTicks, logY, pow10Label } from "./data.ts";
import { COLORS, figure, plotBlock, swatchBlock } from "./svg.ts";

/** A curve of a figure. */
export interface Series<T> {
  label: string;
  color: string;
  data: T;
}

/** A dashed vertical line with a label (an absmax, a clipping bound). */
export interface Marker {
  label: string;
  value: number;
  color: string;
}

/** Title, subtitle and caption of a figure. */
export interface Titles {
  title: string;
  subtitle?: string;
  caption?: string;
  /** width in px (default 760) */
  width?: number;
}

const LOG_X = {
  type: "log" as const,
  label: "|value| (log scale; 4 bins per octave)",
  labelAnchor: "center" as const,
  tickFormat: pow10Label,
};

/** Points at the bins' geometric centres, NaN between non-adjacent bins (a gap in the line). */
function points(label: string, bins: MagnitudeBin[], y: (b: MagnitudeBin) => number) {
  const out: { series: string; x: number; y: number }[] = [];
  bins.forEach((b, i) => {
    if (i > 0 && b.lo > bins[i - 1].hi * (1 + 1e-9)) {
      out.push({ series: label, x: Math.sqrt(bins[i - 1].hi * b.lo), y: NaN });
    }
    out.push({ series: label, x: Math.sqrt(b.lo * b.hi), y: y(b) });
  });
  return out;
}

function markerMarks(markers: Marker[]) {
  return [
    Plot.ruleX(markers, { x: "value", stroke: "color", strokeDasharray: "4,3" }),
    // labels at staggered heights, so that close markers do not overlap
    ...markers.map((m, i) =>
      Plot.text([m], {
        x: "value",
        frameAnchor: "top",
        textAnchor: "end",
        dx: -3,
        dy: -6 - 14 * (markers.length - 1 - i),
        text: "label",
        fill: "color",
      })
    ),
  ];
}

function lineMarks(data: { series: string; x: number; y: number }[]) {
  return [
    Plot.line(data, { x: "x", y: "y", stroke: "series", strokeWidth: 2 }),
    Plot.dot(data, { x: "x", y: "y", fill: "series", r: 2.2 }),
  ];
}

function colorScale(series: Series<unknown>[]) {
  return { domain: series.map((s) => s.label), range: series.map((s) => s.color) };
}

/**
 * Log-log histograms of |x| (share of values per bin) of one or more tensors, with dashed
 * markers (absmax, clipping bounds).
 *
 * @example
 * ```ts
 * const svg = magnitudesPlot(
 *   [{ label: "u", color: COLORS.blue, data: errorByMagnitude(layer.u) }],
 *   [{ label: "absmax 5.3", value: 5.3, color: COLORS.blue }],
 *   { title: "|u| of layer 1" },
 * );
 * ```
 */
export function magnitudesPlot(
  series: Series<MagnitudeBin[]>[],
  markers: Marker[],
  titles: Titles,
): string {
  const data = series.flatMap((s) => points(s.label, s.data, (b) => b.share));
  const plot = plotBlock({
    width: titles.width ?? 760,
    height: 320,
    marginLeft: 60,
    marginTop: 14 + 14 * markers.length,
    x: LOG_X,
    y: logY("share of values per bin (log scale)"),
    color: colorScale(series),
    marks: [...markerMarks(markers), ...lineMarks(data)],
  });
  return figure({ ...titles, blocks: [swatchBlock(series), plot] });
}

/**
 * The mean quantization error |x̂ − x| per bin of |x| for several ways of quantizing the same
 * tensor (top), above the histogram of |x| (bottom): where the error lands, and how many values
 * are there.
 *
 * @example
 * ```ts
 * errorByMagnitudePlot([
 *   { label: "max scale", color: COLORS.blue, data: errorByMagnitude(u, fakeQuantize(u, sMax)) },
 *   { label: "p99.999 scale", color: COLORS.orange, data: errorByMagnitude(u, fakeQuantize(u, sP)) },
 * ], markers, { title: "Quantization error of u" });
 * ```
 */
export function errorByMagnitudePlot(
  series: Series<MagnitudeBin[]>[],
  markers: Marker[],
  titles: Titles,
): string {
  const width = titles.width ?? 760;
  const data = series.flatMap((s) =>
    points(s.label, s.data.filter((b) => b.meanError > 0), (b) => b.meanError)
  );
  const xs = series.flatMap((s) => s.data.flatMap((b) => [b.lo, b.hi]));
  const xDomain: [number, number] = [
    Math.min(...xs),
    Math.max(...xs, ...markers.map((m) => m.value)),
  ];
  const top = plotBlock({
    width,
    height: 300,
    marginLeft: 60,
    marginTop: 14 + 14 * markers.length,
    x: { ...LOG_X, domain: xDomain, label: null },
    y: logY("mean |quantization error| in the bin (log)"),
    color: colorScale(series),
    marks: [...markerMarks(markers), ...lineMarks(data)],
  });
  const hist = series[0].data.filter((b) => b.count > 0);
  const floor = Math.min(...hist.map((b) => b.share)) / 2;
  const bottom = plotBlock({
    width,
    height: 130,
    marginLeft: 60,
    x: { ...LOG_X, domain: xDomain },
    y: {
      type: "log",
      domain: [floor, 1],
      label: "share of values",
      labelAnchor: "center",
      labelArrow: "none",
      ticks: 3,
      tickFormat: pow10Label,
      grid: true,
    },
    marks: [
      Plot.rectY(hist, { x1: "lo", x2: "hi", y1: floor, y2: "share", fill: "#b8b8b8" }),
      Plot.ruleX(markers, { x: "value", stroke: "color", strokeDasharray: "4,3" }),
    ],
  });
  return figure({ ...titles, blocks: [swatchBlock(series), top, bottom] });
}

/**
 * Largest |x| of every channel, one series per tensor (log y): outlier channels stand out.
 *
 * @example
 * ```ts
 * channelAbsmaxPlot([
 *   { label: "y", color: COLORS.red, data: channelAbsmax(layer.y, 512) },
 *   { label: "H·y", color: COLORS.green, data: channelAbsmax(r.rotated, 512) },
 * ], { title: "Per-channel absmax" });
 * ```
 */
export function channelAbsmaxPlot(series: Series<Float32Array>[], titles: Titles): string {
  const data = series.flatMap((s) =>
    Array.from(s.data, (v, channel) => ({ series: s.label, channel, absmax: v }))
  );
  const plot = plotBlock({
    width: titles.width ?? 760,
    height: 300,
    marginLeft: 60,
    x: { label: "channel", labelAnchor: "center", labelArrow: "none" },
    y: {
      type: "log",
      label: "absmax of the channel (log scale)",
      labelAnchor: "center",
      labelArrow: "none",
      tickFormat: fmt,
      nice: true,
      grid: true,
    },
    color: colorScale(series),
    marks: [Plot.dot(data, { x: "channel", y: "absmax", fill: "series", r: 1.8 })],
  });
  return figure({ ...titles, blocks: [swatchBlock(series), plot] });
}

/**
 * SQNR (dB) and the share of clipped values against the clipping bound (a percentile of |x|,
 * or the max), from `clippingSweep`.
 *
 * @example
 * ```ts
 * clippingSweepPlot(clippingSweep(layer.u, [99, 99.9, 99.99, 99.999]), { title: "Clipping u" });
 * ```
 */
export function clippingSweepPlot(rows: SweepRow[], titles: Titles): string {
  const width = titles.width ?? 760;
  const order = rows.map((r) => r.bound);
  const clippedShares = rows.map((r) => r["clipped %"]).filter((v) => v > 0);
  const clipDomain: [number, number] = clippedShares.length
    ? [Math.min(...clippedShares) / 2, Math.max(...clippedShares) * 2]
    : [1e-3, 1];
  const best = rows.reduce((a, b) => (b["SQNR dB"] > a["SQNR dB"] ? b : a));
  const sqnr = plotBlock({
    width,
    height: 240,
    marginLeft: 60,
    marginTop: 24,
    x: { type: "point", domain: order, label: null, padding: 0.4 },
    y: {
      label: "SQNR (dB, higher is better)",
      labelAnchor: "center",
      labelArrow: "none",
      grid: true,
    },
    marks: [
      Plot.line(rows, { x: "bound", y: "SQNR dB", stroke: COLORS.blue, strokeWidth: 2 }),
      Plot.dot(rows, { x: "bound", y: "SQNR dB", fill: COLORS.blue, r: 4 }),
      Plot.text(rows, {
        x: "bound",
        y: "SQNR dB",
        text: (r: SweepRow) => `${r["SQNR dB"].toFixed(2)} dB`,
        dy: -12,
        fill: (r: SweepRow) => (r === best ? COLORS.red : "#333"),
      }),
    ],
  });
  const clipped = plotBlock({
    width,
    height: 150,
    marginLeft: 60,
    x: {
      type: "point",
      domain: order,
      label: "clipping bound of the scale (percentile of |x|, or its max)",
      labelAnchor: "center",
      labelArrow: "none",
      padding: 0.4,
    },
    y: {
      type: "log",
      domain: clipDomain,
      label: "clipped %",
      labelAnchor: "center",
      labelArrow: "none",
      ticks: logTicks(clipDomain).filter((t) => Math.log10(t) % 1 === 0),
      tickFormat: fmt,
      grid: true,
    },
    marks: [
      Plot.dot(rows.filter((r) => r["clipped %"] > 0), {
        x: "bound",
        y: "clipped %",
        fill: COLORS.orange,
        r: 4,
      }),
      Plot.text(rows.filter((r) => r["clipped %"] === 0), {
        x: "bound",
        frameAnchor: "bottom",
        dy: -6,
        text: () => "none clipped",
        fill: "#666",
      }),
    ],
  });
  return figure({ ...titles, blocks: [sqnr, clipped] });
}

/** The recipe's figures of one layer, by name (SVG documents). */
export interface RecipeFigures {
  /** |u| and |y| with their absmax and the clipping bound of u */
  distributions: string;
  /** u: error per magnitude at the max scale vs the percentile scale */
  clippingError: string;
  /** u: SQNR and clipped share over clipping percentiles */
  clippingSweep: string;
  /** per-channel absmax of y and of H·y */
  hadamardChannels: string;
  /** |y| and |H·y| with their absmax */
  hadamardDistributions: string;
  /** y: error per magnitude, direct vs through the rotation (measured after rotating back) */
  hadamardError: string;
}

/**
 * Every figure of notebooks/02_recipe.ipynb for one layer's activations.
 *
 * @example
 * ```ts
 * const figs = recipeFigures(await collectLayer(EMBEDDED_MODEL, { layer: 1, samples: 8 }));
 * showSvg(figs.clippingError);
 * ```
 */
export function recipeFigures(
  layer: LayerActivations,
  options: { percentile?: number; sweep?: number[] } = {},
): RecipeFigures {
  const p = options.percentile ?? 99.999;
  const { u, y, channels } = layer;
  const src = `layer ${layer.layer}, ${layer.tokens} tokens of ${layer.samples} calibration ` +
    `samples, ${channels} channels`;
  const uMax = absmax(u), uClip = percentileAbs(u, p), yMax = absmax(y);
  const rot = rotatedQuantization(y, channels);
  const hMax = absmax(rot.rotated);
  const pName = `p${p}`;
  const distributions = magnitudesPlot(
    [
      {
        label: "u: SSM input (conv1d + SiLU output)",
        color: COLORS.blue,
        data: errorByMagnitude(u),
      },
      {
        label: "y: out_proj input (SSM output × gate)",
        color: COLORS.red,
        data: errorByMagnitude(y),
      },
    ],
    [
      { label: `u ${pName} ${fmt(uClip)}`, value: uClip, color: COLORS.orange },
      { label: `u absmax ${fmt(uMax)}`, value: uMax, color: COLORS.blue },
      { label: `y absmax ${fmt(yMax)}`, value: yMax, color: COLORS.red },
    ],
    {
      title: `The two tensors Quamba treats, layer ${layer.layer}: |u| and |y|`,
      subtitle: `Share of values per log-spaced bin of |x| (${src}). A per-tensor int8 scale ` +
        `must cover the absmax (dashed): y's range is ${fmt(yMax / uMax)}× u's, with a long ` +
        `tail of rare large values.`,
    },
  );
  const sMax = scaleOf(uMax), sClip = scaleOf(uClip);
  const clippingError = errorByMagnitudePlot(
    [
      {
        label: `max scale: step ${fmt(sMax)}`,
        color: COLORS.blue,
        data: errorByMagnitude(u, fakeQuantize(u, sMax)),
      },
      {
        label: `${pName} scale: step ${fmt(sClip)}`,
        color: COLORS.orange,
        data: errorByMagnitude(u, fakeQuantize(u, sClip)),
      },
    ],
    [
      { label: `${pName} ${fmt(uClip)}`, value: uClip, color: COLORS.orange },
      { label: `absmax ${fmt(uMax)}`, value: uMax, color: COLORS.blue },
    ],
    {
      title: `What clipping does to the quantization error of u, layer ${layer.layer}`,
      subtitle:
        `Mean |q(u) − u| per bin of |u| (top) over the histogram of |u| (bottom; ${src}). ` +
        `The ${pName} scale rounds every value below the bound ${
          fmt(sMax / sClip)
        }× more finely; ` +
        `the few values above it saturate and their error grows with their size.`,
    },
  );
  const sweep = clippingSweepPlot(
    clippingSweep(u, options.sweep ?? [99, 99.9, 99.99, 99.999]),
    {
      title: `Choosing the clipping bound of u, layer ${layer.layer}`,
      subtitle: `SQNR of u quantized per tensor at the scale of each percentile of |u| ` +
        `(${src}); below, the share of values clipped. Quamba takes p99.999.`,
    },
  );
  const hadamardChannels = channelAbsmaxPlot(
    [
      { label: "y: out_proj input", color: COLORS.red, data: channelAbsmax(y, channels) },
      {
        label: "H·y: after the Hadamard rotation",
        color: COLORS.green,
        data: channelAbsmax(rot.rotated, channels),
      },
    ],
    {
      title: `Per-channel absmax of y before and after the rotation, layer ${layer.layer}`,
      subtitle: `The rotation mixes every channel into every other: a few outlier channels ` +
        `of y (absmax ${fmt(yMax)}) become a flat profile (absmax ${fmt(hMax)}); ${src}.`,
    },
  );
  const hadamardDistributions = magnitudesPlot(
    [
      { label: "y", color: COLORS.red, data: errorByMagnitude(y) },
      { label: "H·y", color: COLORS.green, data: errorByMagnitude(rot.rotated) },
    ],
    [
      { label: `H·y absmax ${fmt(hMax)}`, value: hMax, color: COLORS.green },
      { label: `y absmax ${fmt(yMax)}`, value: yMax, color: COLORS.red },
    ],
    {
      title: `|y| before and after the Hadamard rotation, layer ${layer.layer}`,
      subtitle: `The orthonormal rotation keeps the energy (Σx²) but removes the tail: the ` +
        `range an int8 scale must cover shrinks ${fmt(yMax / hMax)}× (${src}).`,
    },
  );
  const sY = scaleOf(yMax);
  const direct = quantizationError(y, sY);
  const hadamardError = errorByMagnitudePlot(
    [
      {
        label: `y, max scale: step ${fmt(sY)}`,
        color: COLORS.red,
        data: errorByMagnitude(y, fakeQuantize(y, sY)),
      },
      {
        label: `H⁻¹·q(H·y): step ${fmt(rot.scale)}`,
        color: COLORS.green,
        data: errorByMagnitude(y, rot.restored),
      },
    ],
    [{ label: `y absmax ${fmt(yMax)}`, value: yMax, color: COLORS.red }],
    {
      title: `What the rotation does to the quantization error of y, layer ${layer.layer}`,
      subtitle: `Mean error per bin of |y| (top), measured in y's own space (the rotated ` +
        `tensor quantized, then rotated back), over the histogram of |y| (bottom; ${src}). ` +
        `Directly, every |y| below half a step (${fmt(sY / 2)}) rounds to 0; after the ` +
        `rotation each value carries about the same small error, spread over all channels: ` +
        `larger for the tiniest values, far smaller where the energy is (MSE ` +
        `${fmt(direct.mse)} → ${fmt(rot.error.mse)}).`,
    },
  );
  return {
    distributions,
    clippingError,
    clippingSweep: sweep,
    hadamardChannels,
    hadamardDistributions,
    hadamardError,
  };
}
