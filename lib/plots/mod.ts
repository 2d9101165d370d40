/**
 * The figures of the activation statistics (Observable Plot, rendered without a browser): each
 * function takes the Arrow tables of `deno task stats` and returns a standalone SVG document;
 * `svgToPng` renders one with the fonts that ship with the kit.
 *
 * @example
 * ```ts
 * import { allFigures, readStatsTables, svgToPng } from "./lib/plots/mod.ts";
 * const stats = await readStatsTables("reports/stats");
 * for (const { name, svg } of allFigures(stats)) {
 *   await Deno.writeTextFile(`${name}.svg`, svg);
 *   await Deno.writeFile(`${name}.png`, svgToPng(svg));
 * }
 * ```
 * @module
 */
import { channelOutliersPlot } from "./channels.ts";
import { clippingPlot } from "./clipping.ts";
import { defaultLayer, type StatsTables } from "./data.ts";
import { hadamardPlot } from "./hadamard.ts";
import { absmaxHeatmap } from "./heatmap.ts";
import { histogramsPlot } from "./histograms.ts";

export { channelOutliersPlot } from "./channels.ts";
export { clippingPlot } from "./clipping.ts";
export { hadamardPlot } from "./hadamard.ts";
export { absmaxHeatmap } from "./heatmap.ts";
export { histogramsPlot } from "./histograms.ts";
export { svgToPng } from "./png.ts";
export { defaultLayer, readStatsTables, type StatsTables } from "./data.ts";

/** One rendered figure: a file name stem and its SVG. */
export interface NamedFigure {
  name: string;
  svg: string;
}

/**
 * Every figure, named as `deno task plots` writes them; the single-layer ones show `layer`
 * (default: the layer whose `y` is the most outlier-dominated, see `defaultLayer`).
 *
 * @example
 * ```ts
 * allFigures(stats, { layer: 3 }).map((f) => f.name);
 * // ["channels_layer3", "clipping_u", "hadamard_layer3", "absmax_heatmap", "histograms_layer3"]
 * ```
 */
export function allFigures(stats: StatsTables, options: { layer?: number } = {}): NamedFigure[] {
  const layer = options.layer ?? defaultLayer(stats.scalars);
  return [
    { name: `channels_layer${layer}`, svg: channelOutliersPlot(stats, { layer }) },
    { name: "clipping_u", svg: clippingPlot(stats) },
    { name: `hadamard_layer${layer}`, svg: hadamardPlot(stats, { layer }) },
    { name: "absmax_heatmap", svg: absmaxHeatmap(stats) },
    { name: `histograms_layer${layer}`, svg: histogramsPlot(stats, { layer }) },
  ];
}
