/** Figure: absmax of every tensor in every layer as a heat map (log colour scale). */
import * as Plot from "@observablehq/plot";
import type { Table } from "apache-arrow";
import { KitError } from "../errors.ts";
import { orderTensors } from "../stats/schema.ts";
import { describeSource, fmt, logTicks, scalarRows } from "./data.ts";
import { type Block, figure, plotBlock, textBlock } from "./svg.ts";

export interface HeatmapOptions {
  /** the statistic shown (default absmax) */
  statistic?: string;
  /** width in px (default 760) */
  width?: number;
}

const SCHEME = "YlOrRd";

/**
 * A log colour ramp with its axis, drawn with Plot (Plot's own ramp legend needs a canvas). The
 * axis is linear in log10(value), so that every 1-2-5 tick keeps its label.
 */
export function logLegend(
  domain: [number, number],
  label: string,
  width: number,
  ticks: number[] = logTicks(domain),
): Block {
  const n = 64, [lo, hi] = domain.map(Math.log10);
  const steps = Array.from({ length: n }, (_, i) => ({
    a: lo + (hi - lo) * i / n,
    b: lo + (hi - lo) * (i + 1) / n,
  }));
  const ramp = plotBlock({
    width,
    height: 40,
    marginTop: 0,
    marginBottom: 22,
    marginLeft: 12,
    marginRight: 12,
    x: {
      domain: [lo, hi],
      label: null,
      ticks: ticks.map(Math.log10),
      tickFormat: (t: number) => fmt(10 ** t),
    },
    y: { axis: null },
    color: { type: "log", domain, scheme: SCHEME },
    marks: [
      Plot.rect(steps, {
        x1: "a",
        x2: "b",
        y1: 0,
        y2: 1,
        fill: (d: { a: number }) => 10 ** d.a,
        inset: 0,
      }),
    ],
  });
  const title = textBlock(label, width, { fontSize: 11, color: "#333" });
  return {
    width,
    height: title.height + ramp.height,
    body: `${title.body}<g transform="translate(0,${title.height})">${ramp.body}</g>`,
  };
}

/**
 * The absmax (or another scalar statistic) of every tensor in every layer, on a log colour scale
 * with a legend: which tensors need the most int8 range, and where in depth.
 *
 * @example
 * ```ts
 * const stats = await readStatsTables("reports/stats");
 * await Deno.writeTextFile("heatmap.svg", absmaxHeatmap(stats));
 * ```
 */
export function absmaxHeatmap(tables: { scalars: Table }, options: HeatmapOptions = {}): string {
  const { statistic = "absmax", width = 760 } = options;
  const rows = scalarRows(tables.scalars).filter((r) => r.statistic === statistic);
  if (!rows.length) throw new KitError(`scalars table: no '${statistic}' rows`);
  // Mamba tensors first, then (hybrid models) attention and feed-forward ones: attention and
  // Mamba layers side by side, each with the cells of the tensors it has
  const tensors = orderTensors(rows.map((r) => r.tensor));
  const layers = [...new Set(rows.map((r) => r.layer))].sort((a, b) => a - b);
  const positive = rows.map((r) => r.value).filter((v) => v > 0);
  const domain: [number, number] = [Math.min(...positive), Math.max(...positive)];
  const cell = layers.length <= 16 ? 26 : Math.max(6, Math.floor(520 / layers.length));
  const labels = layers.length <= 16;
  // text on the cells: white on the dark (high) end of the scheme
  const t = (v: number) => Math.log(v / domain[0]) / Math.log(domain[1] / domain[0] || 2);
  const plot = plotBlock({
    width,
    height: layers.length * cell + 8 + 64,
    marginTop: 8,
    marginBottom: 64,
    marginLeft: 60,
    padding: 0.04,
    x: { domain: tensors, label: null, tickRotate: -35, axis: "bottom" },
    y: {
      domain: layers,
      label: "layer",
      labelAnchor: "center",
      labelArrow: "none",
      ticks: layers.length <= 32 ? layers : layers.filter((l) => l % 8 === 0),
    },
    color: { type: "log", domain, scheme: SCHEME },
    marks: [
      Plot.cell(rows.filter((r) => r.value > 0), { x: "tensor", y: "layer", fill: "value" }),
      labels
        ? Plot.text(rows, {
          x: "tensor",
          y: "layer",
          text: (d: { value: number }) => fmt(d.value),
          fill: (d: { value: number }) => t(d.value) > 0.6 ? "white" : "#222",
        })
        : null,
    ],
  });
  const legend = logLegend(domain, `${statistic} (log colour scale)`, Math.min(360, width));
  const note = textBlock(
    `${tensors.length} tensors × ${layers.length} layers; ${describeSource(tables.scalars)}.`,
    width,
    { fontSize: 11, color: "#666" },
  );
  return figure({
    title: `${statistic} of every activation, by layer and tensor`,
    subtitle: "Which activations need the widest int8 range: u has rare extreme values, y " +
      "(the out_proj input) has outlier channels, and y_had is y after the Hadamard rotation.",
    blocks: [legend, plot, note],
  });
}
