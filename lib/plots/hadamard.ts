/** Figure: the out_proj input's distribution before (`y`) and after (`y_had`) the Hadamard rotation. */
import * as Plot from "@observablehq/plot";
import type { Table } from "apache-arrow";
import { KitError } from "../errors.ts";
import {
  checkLayer,
  describeSource,
  fmt,
  type HistogramRow,
  histogramRows,
  logY,
  pow10Label,
  scalarRows,
} from "./data.ts";
import { COLORS, figure, plotBlock, swatchBlock } from "./svg.ts";

export interface HadamardOptions {
  /** the layer to show */
  layer: number;
  /** width in px (default 760) */
  width?: number;
}

const SERIES = [
  { tensor: "y", label: "y: out_proj input", color: COLORS.red },
  { tensor: "y_had", label: "y_had: after the Hadamard rotation", color: COLORS.green },
];

/** Points at the bins' geometric centres, as the share of all values of the tensor. */
function shares(rows: HistogramRow[], tensor: string) {
  const mine = rows.filter((r) => r.tensor === tensor);
  if (!mine.length) throw new KitError(`histograms table: no rows for tensor '${tensor}'`);
  const total = mine.reduce((s, r) => s + r.count, 0);
  const bins = mine.filter((r) => r.lo > 0).sort((a, b) => a.lo - b.lo);
  const absmax = Math.max(...bins.map((r) => r.hi));
  const points: { tensor: string; x: number; share: number }[] = [];
  bins.forEach((r, i) => {
    // an empty bin between two others breaks the line (NaN is a gap for Plot.line)
    if (i > 0 && r.lo > bins[i - 1].hi * (1 + 1e-9)) {
      points.push({ tensor, x: Math.sqrt(bins[i - 1].hi * r.lo), share: NaN });
    }
    points.push({ tensor, x: Math.sqrt(r.lo * r.hi), share: r.count / total });
  });
  return { points, absmax };
}

/**
 * Histograms of |y| and |y_had| in one layer, log-log: the rotation spreads the outlier channels
 * over all channels, so the tail and the absmax (the int8 range) shrink.
 *
 * @example
 * ```ts
 * const stats = await readStatsTables("reports/stats");
 * await Deno.writeTextFile("hadamard.svg", hadamardPlot(stats, { layer: 3 }));
 * ```
 */
export function hadamardPlot(
  tables: { histograms: Table; scalars?: Table },
  options: HadamardOptions,
): string {
  const { layer, width = 760 } = options;
  checkLayer(tables.histograms, { name: "histograms", layer });
  const rows = histogramRows(tables.histograms, layer);
  const [y, had] = SERIES.map((s) => shares(rows, s.tensor));
  const points = [...y.points, ...had.points];
  // the exact absmax from the scalars table when given, else the upper edge of the top bin
  const exact = tables.scalars
    ? scalarRows(tables.scalars).filter((r) => r.layer === layer && r.statistic === "absmax")
    : [];
  const edges = SERIES.map((s, i) => {
    const absmax = exact.find((r) => r.tensor === s.tensor)?.value;
    return absmax === undefined
      ? { ...s, absmax: [y, had][i].absmax, text: `top bin edge ${fmt([y, had][i].absmax)}` }
      : { ...s, absmax, text: `absmax ${fmt(absmax)}` };
  });
  const plot = plotBlock({
    width,
    height: 340,
    marginLeft: 60,
    marginTop: 36,
    x: {
      type: "log",
      label: "|value| (log scale; 4 bins per octave)",
      labelAnchor: "center",
      tickFormat: pow10Label,
    },
    y: logY("share of values per bin (log scale)"),
    color: { domain: SERIES.map((s) => s.tensor), range: SERIES.map((s) => s.color) },
    marks: [
      Plot.ruleX(edges, { x: "absmax", stroke: "tensor", strokeDasharray: "4,3" }),
      // the two labels at different heights, so that they never overlap
      ...edges.map((e, i) =>
        Plot.text([e], {
          x: "absmax",
          frameAnchor: "top",
          textAnchor: "end",
          dx: -3,
          dy: i ? -6 : -20,
          text: "text",
          fill: "tensor",
        })
      ),
      Plot.line(points, { x: "x", y: "share", stroke: "tensor", strokeWidth: 2 }),
      Plot.dot(points, { x: "x", y: "share", fill: "tensor", r: 2.5 }),
    ],
  });
  return figure({
    title: `The out_proj input before and after the Hadamard rotation, layer ${layer}`,
    subtitle: `Histograms of |y| and |y_had| (${describeSource(tables.histograms)}). The ` +
      `orthonormal rotation keeps the values' energy but spreads outlier channels over all ` +
      `channels: the range an int8 scale must cover shrinks ` +
      `${fmt(edges[0].absmax / edges[1].absmax)}× (dashed lines).`,
    blocks: [swatchBlock(SERIES), plot],
  });
}
