/** Figure: absmax vs p99.999 of `u` across layers: what percentile clipping removes. */
import * as Plot from "@observablehq/plot";
import type { Table } from "apache-arrow";
import { KitError } from "../errors.ts";
import { describeSource, fmt, scalarRows } from "./data.ts";
import { COLORS, figure, plotBlock, swatchBlock } from "./svg.ts";

export interface ClippingOptions {
  /** the tensor (default u, the SSM input that Quamba clips) */
  tensor?: string;
  /** the clipping percentile's statistic (default p99.999) */
  percentile?: string;
  /** width in px (default 760) */
  width?: number;
}

const SERIES = [
  { statistic: "absmax", label: "absmax (no clipping)", color: COLORS.blue },
  { statistic: "", label: "", color: COLORS.orange }, // the percentile, filled in below
  { statistic: "", label: "", color: COLORS.green }, // its per-sample EMA, when present
];

/**
 * The absmax and the clipping percentile (p99.999) of `u` per layer, log y: the gap between the
 * lines is the range that clipping gives up, for a finer int8 step on everything else.
 *
 * @example
 * ```ts
 * const stats = await readStatsTables("reports/stats");
 * await Deno.writeTextFile("clipping.svg", clippingPlot(stats));
 * ```
 */
export function clippingPlot(tables: { scalars: Table }, options: ClippingOptions = {}): string {
  const { tensor = "u", percentile = "p99.999", width = 760 } = options;
  const series = structuredClone(SERIES);
  series[1].statistic = percentile;
  series[1].label = `${percentile} of |${tensor}| (clipping bound)`;
  series[2].statistic = `ema_${percentile}`;
  series[2].label = `EMA of per-sample ${percentile} (Quamba's bound)`;
  const rows = scalarRows(tables.scalars).filter((r) => r.tensor === tensor);
  for (const { statistic } of series.slice(0, 2)) {
    if (!rows.some((r) => r.statistic === statistic)) {
      throw new KitError(`scalars table: no '${statistic}' rows for tensor '${tensor}'`);
    }
  }
  const present = series.filter((s) => rows.some((r) => r.statistic === s.statistic));
  const data = rows.filter((r) => present.some((s) => s.statistic === r.statistic));
  const layers = [...new Set(data.map((r) => r.layer))].sort((a, b) => a - b);
  const get = (layer: number, statistic: string) =>
    data.find((r) => r.layer === layer && r.statistic === statistic)?.value ?? NaN;
  const ratios = layers.map((l) => get(l, "absmax") / get(l, percentile)).filter(isFinite);
  const gap = layers.map((l) => ({ layer: l, hi: get(l, "absmax"), lo: get(l, percentile) }));
  const color = {
    domain: present.map((s) => s.statistic),
    range: present.map((s) => s.color),
  };
  const plot = plotBlock({
    width,
    height: 320,
    marginLeft: 60,
    x: {
      label: "layer",
      labelAnchor: "center",
      labelArrow: "none",
      ticks: layers.length <= 24 ? layers : undefined,
      tickFormat: "d",
    },
    y: {
      type: "log",
      label: `|${tensor}| (activation value, log scale)`,
      // padded around the data: a "nice" log domain would snap to whole decades and leave the
      // values (often within a factor of 2 of each other) squeezed into a sliver of the plot
      domain: [
        Math.min(...data.map((d) => d.value)) / 1.15,
        Math.max(...data.map((d) => d.value)) * 1.15,
      ],
      tickFormat: fmt,
      labelAnchor: "center",
      labelArrow: "none",
      grid: true,
    },
    color,
    marks: [
      Plot.areaY(gap, { x: "layer", y1: "lo", y2: "hi", fill: COLORS.blue, fillOpacity: 0.12 }),
      Plot.line(data.filter((d) => !d.statistic.startsWith("ema_")), {
        x: "layer",
        y: "value",
        stroke: "statistic",
        strokeWidth: 2,
      }),
      Plot.line(data.filter((d) => d.statistic.startsWith("ema_")), {
        x: "layer",
        y: "value",
        stroke: "statistic",
        strokeWidth: 2,
        strokeDasharray: "5,3",
      }),
      Plot.dot(data, { x: "layer", y: "value", fill: "statistic", r: 3 }),
    ],
  });
  const lo = Math.min(...ratios), hi = Math.max(...ratios);
  return figure({
    title: `What clipping removes: absmax vs ${percentile} of ${tensor}, per layer`,
    subtitle: `Clipping at the ${percentile.slice(1)}th percentile of |${tensor}| instead of its ` +
      `absmax shrinks the int8 step by ${fmt(lo)}× to ${fmt(hi)}× (shaded: the clipped range; ` +
      `${describeSource(tables.scalars)}).`,
    blocks: [
      swatchBlock(present.map((s, i) => ({ label: s.label, color: s.color, dash: i === 2 }))),
      plot,
    ],
  });
}
