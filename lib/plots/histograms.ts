/** Figure: histograms of |x| of every tensor of one layer, as small multiples (log-log). */
import * as Plot from "@observablehq/plot";
import type { Table } from "apache-arrow";
import { TENSOR_NAMES } from "../stats/schema.ts";
import { checkLayer, describeSource, histogramRows, pow10Label } from "./data.ts";
import { COLORS, figure, plotBlock } from "./svg.ts";

export interface HistogramsOptions {
  /** the layer to show */
  layer: number;
  /** small multiples per row (default 4) */
  columns?: number;
  /** width in px (default 800) */
  width?: number;
}

/** u, y and y_had (the tensors of Quamba's story) stand out; the others are muted. */
const FILL: Record<string, string> = { u: COLORS.blue, y: COLORS.red, y_had: COLORS.green };

interface Bar {
  tensor: string;
  lo: number;
  hi: number;
  share: number;
}

/**
 * One log-log histogram of |x| per tensor of a layer (share of the tensor's values per bin, on
 * the table's log-spaced bins), with shared axes so that the ranges compare at a glance.
 *
 * @example
 * ```ts
 * const stats = await readStatsTables("reports/stats");
 * await Deno.writeTextFile("histograms.svg", histogramsPlot(stats, { layer: 0 }));
 * ```
 */
export function histogramsPlot(tables: { histograms: Table }, options: HistogramsOptions): string {
  const { layer, columns = 4, width = 800 } = options;
  checkLayer(tables.histograms, { name: "histograms", layer });
  const rows = histogramRows(tables.histograms, layer);
  const names = [...new Set(rows.map((r) => r.tensor))];
  const tensors = [
    ...TENSOR_NAMES.filter((t) => names.includes(t)),
    ...names.filter((t) => !TENSOR_NAMES.includes(t as never)),
  ];
  const totals = new Map<string, number>();
  const zeros = new Map<string, number>();
  for (const r of rows) {
    totals.set(r.tensor, (totals.get(r.tensor) ?? 0) + r.count);
    if (r.lo === 0) zeros.set(r.tensor, (zeros.get(r.tensor) ?? 0) + r.count);
  }
  const bars: Bar[] = rows.filter((r) => r.lo > 0 && r.count > 0).map((r) => ({
    tensor: r.tensor,
    lo: r.lo,
    hi: r.hi,
    share: r.count / totals.get(r.tensor)!,
  }));
  const floor = Math.min(...bars.map((b) => b.share)) / 2;
  const index = new Map(tensors.map((t, i) => [t, i]));
  const fx = (d: { tensor: string }) => index.get(d.tensor)! % columns;
  const fy = (d: { tensor: string }) => Math.floor(index.get(d.tensor)! / columns);
  const gridRows = Math.ceil(tensors.length / columns);
  const facets = tensors.map((tensor) => ({ tensor }));
  const zeroNote = [...zeros].map(([t, n]) => `${t}: ${n}`).join(", ");
  const plot = plotBlock({
    width,
    height: gridRows * 150 + 60,
    marginLeft: 64,
    marginBottom: 44,
    marginTop: 8,
    fx: { axis: null, padding: 0.12 },
    fy: { axis: null, padding: 0.16 },
    x: {
      type: "log",
      label: "|x| (log scale; 4 bins per octave)",
      labelAnchor: "center",
      ticks: 4,
      tickFormat: pow10Label,
    },
    y: {
      type: "log",
      domain: [floor, 1],
      label: "share of values per bin (log)",
      labelAnchor: "center",
      labelArrow: "none",
      ticks: 4,
      tickFormat: pow10Label,
      grid: true,
    },
    marks: [
      Plot.frame({ stroke: "#ddd" }),
      Plot.rect(bars, {
        fx,
        fy,
        x1: "lo",
        x2: "hi",
        y1: floor,
        y2: "share",
        fill: (d: Bar) => FILL[d.tensor] ?? "#8c9db5",
        inset: 0,
      }),
      Plot.text(facets, {
        fx,
        fy,
        text: "tensor",
        frameAnchor: "top-right",
        dx: -4,
        dy: 4,
        fontSize: 12,
        fontWeight: "bold",
        fill: "#222",
        stroke: "white",
        strokeWidth: 3,
      }),
    ],
  });
  return figure({
    title: `Histograms of |x| of every tensor, layer ${layer}`,
    subtitle:
      `Share of each tensor's values per log-spaced bin (${describeSource(tables.histograms)}).` +
      " Long right tails are the outliers an int8 scale has to cover.",
    caption: zeroNote ? `Exact zeros are not drawn (${zeroNote}).` : undefined,
    blocks: [plot],
  });
}
