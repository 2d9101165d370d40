/** Figure: per-channel absmax of `u` and of `y` in one layer (Quamba's outlier picture). */
import * as Plot from "@observablehq/plot";
import type { Table } from "apache-arrow";
import { KitError } from "../errors.ts";
import { TENSORS } from "../stats/schema.ts";
import { type ChannelRow, channelRows, checkLayer, describeSource, fmt } from "./data.ts";
import { type Block, COLORS, figure, plotBlock, textBlock } from "./svg.ts";

export interface ChannelOutliersOptions {
  /** the layer to show */
  layer: number;
  /** the tensors, one panel each (default u and y) */
  tensors?: string[];
  /** width in px (default 760) */
  width?: number;
}

const COLOR: Record<string, string> = { u: COLORS.blue, y: COLORS.red, y_had: COLORS.green };

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function panel(rows: ChannelRow[], tensor: string, width: number): Block[] {
  const med = median(rows.map((r) => r.absmax));
  const sorted = rows.slice().sort((a, b) => b.absmax - a.absmax);
  const max = sorted[0].absmax;
  const top = sorted.slice(0, 3).filter((r) => r.absmax > 2 * med && r.absmax >= max / 4);
  const what = (TENSORS as Record<string, string>)[tensor]?.replace(/ \[.\]$/, "") ?? tensor;
  const heading = textBlock(
    `${tensor}: ${what}. Largest channel absmax ${fmt(max)}, ${fmt(max / med)}× the median`,
    width,
    { fontSize: 12, bold: true, color: "#222" },
  );
  const plot = plotBlock({
    width,
    height: 190,
    marginLeft: 60,
    marginTop: 16,
    x: { label: `channel index (0–${rows.length - 1})`, labelAnchor: "right", nice: false },
    y: {
      label: `max |${tensor}| per channel`,
      labelAnchor: "center",
      labelArrow: "none",
      grid: true,
      nice: true,
      zero: true,
    },
    marks: [
      Plot.ruleX(rows, { x: "channel", y: "absmax", stroke: COLOR[tensor] ?? COLORS.gray }),
      Plot.ruleY([med], { stroke: "#333", strokeDasharray: "4,3" }),
      Plot.text([med], {
        y: (d: number) => d,
        frameAnchor: "right",
        dy: -7,
        text: () => `median ${fmt(med)}`,
        fill: "#333",
        stroke: "white",
        strokeWidth: 3,
      }),
      Plot.text(top, {
        x: "channel",
        y: "absmax",
        dy: -7,
        text: (d: ChannelRow) => `ch ${d.channel}`,
        fill: "#333",
        stroke: "white",
        strokeWidth: 3,
      }),
      Plot.ruleY([0]),
    ],
  });
  return [heading, plot];
}

/**
 * Per-channel absmax of `u` (the SSM input) and `y` (the out_proj input) in one layer, one panel
 * each: a few `y` channels dwarf the rest, which is why Quamba rotates `y` before quantizing it.
 *
 * @example
 * ```ts
 * const stats = await readStatsTables("reports/stats");
 * await Deno.writeTextFile("channels.svg", channelOutliersPlot(stats, { layer: 3 }));
 * ```
 */
export function channelOutliersPlot(
  tables: { channels: Table },
  options: ChannelOutliersOptions,
): string {
  const { layer, tensors = ["u", "y"], width = 760 } = options;
  checkLayer(tables.channels, { name: "channels", layer });
  const all = channelRows(tables.channels, layer);
  const blocks: Block[] = [];
  for (const tensor of tensors) {
    const rows = all.filter((r) => r.tensor === tensor).sort((a, b) => a.channel - b.channel);
    if (!rows.length) {
      throw new KitError(`channels table: no rows for tensor '${tensor}' in layer ${layer}`);
    }
    blocks.push(...panel(rows, tensor, width));
  }
  return figure({
    title: `Per-channel absmax of ${tensors.join(" and ")}, layer ${layer}`,
    subtitle: `Each bar is the largest |value| one channel took over the calibration tokens ` +
      `(${describeSource(tables.channels)}). A per-tensor int8 scale is set by the largest bar.`,
    blocks,
  });
}
