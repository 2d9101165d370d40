/**
 * A decode step against the memory-bandwidth floor: TPOT (mean, log) per model size for each
 * method, with each method's floor (weight bytes a step reads ÷ the bandwidth) drawn dashed in its
 * colour, so the distance from the floor reads off as a gap between the two lines.
 */
import * as Plot from "@observablehq/plot";
import type { BenchRow } from "../bench/table.ts";
import { colorOf, sizeOrder, spreadLabels } from "./latency.ts";
import { figure, plotBlock, swatchBlock } from "./svg.ts";

/**
 * TPOT and its bandwidth floor against model size (rows with a floor only).
 *
 * @example
 * ```ts
 * const svg = tpotFloorPlot(await readBenchRows("rows.jsonl"), { ep: "CUDA", bandwidth: "4.8 TB/s" });
 * ```
 */
export function tpotFloorPlot(
  rows: BenchRow[],
  options: { ep?: string; bandwidth?: string; note?: string; width?: number } = {},
): string {
  const withFloor = rows.filter((r) => r.floorMs !== undefined);
  const methods = [...new Set(withFloor.map((r) => r.method))];
  const models = sizeOrder(withFloor.map((r) => r.model));
  const data = withFloor.flatMap((r) => [
    { model: r.model, method: r.method, kind: "TPOT", ms: r.latency.tpot.mean },
    { model: r.model, method: r.method, kind: "floor", ms: r.floorMs! },
  ]);
  const ys = data.map((d) => d.ms);
  const last = models[models.length - 1];
  const domain = [Math.min(...ys) / 1.5, Math.max(...ys) * 1.5];
  const labels = spreadLabels(
    withFloor.filter((r) => r.model === last).map((r) => ({
      model: r.model,
      method: r.method,
      mean: r.latency.tpot.mean,
      label: `${r.latency.tpot.mean.toFixed(2)} ms (${
        (r.latency.tpot.mean / r.floorMs!).toFixed(1)
      }x floor)`,
    })),
    domain,
    300 - 50,
  );
  const line = (kind: string, dash?: string) =>
    Plot.line(data.filter((d) => d.kind === kind), {
      x: "model",
      y: "ms",
      stroke: "method",
      z: "method",
      strokeWidth: kind === "TPOT" ? 2 : 1.5,
      strokeDasharray: dash,
    });
  return figure({
    title: `Decode step vs the bandwidth floor${options.ep ? ` (${options.ep})` : ""}`,
    subtitle: `Solid: TPOT (mean); dashed: the floor, weight bytes a step reads ÷ ${
      options.bandwidth ?? "the bandwidth"
    }. ${options.note ?? ""}`,
    blocks: [
      swatchBlock(methods.map((m) => ({ label: m, color: colorOf(m) }))),
      plotBlock({
        width: options.width ?? 760,
        height: 300,
        marginLeft: 60,
        marginRight: 190,
        x: { type: "point", domain: models, label: null, padding: 0.4 },
        y: {
          type: "log",
          label: "ms per token (log)",
          grid: true,
          domain,
          tickFormat: (d: number) => `${+d.toPrecision(2)}`,
          labelAnchor: "center",
          labelArrow: "none",
        },
        color: { domain: methods, range: methods.map(colorOf) },
        marks: [
          line("TPOT"),
          line("floor", "5,4"),
          Plot.dot(data.filter((d) => d.kind === "TPOT"), {
            x: "model",
            y: "ms",
            fill: "method",
            r: 3.5,
          }),
          Plot.text(labels, {
            x: "model",
            y: "yLabel",
            text: "label",
            dx: 10,
            textAnchor: "start",
            fill: "method",
          }),
        ],
      }),
    ],
    caption: "Seeded random weights of each shape; one timed generation after a warm-up.",
  });
}
