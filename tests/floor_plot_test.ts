/** The decode-step-vs-floor figure: one solid and one dashed line per method, labels with ratios. */
import assert from "node:assert/strict";
import type { BenchRow } from "../lib/bench/table.ts";
import { tpotFloorPlot } from "../lib/plots/floor.ts";
import { parseSvg, texts } from "./helpers/svg_query.ts";

const s = (mean: number) => ({ mean, median: mean, p90: mean, n: 1 });
const row = (model: string, method: string, tpot: number, floorMs?: number) =>
  ({ model, method, floorMs, latency: { ttft: s(1), tpot: s(tpot), ttlt: s(1) } }) as BenchRow;

Deno.test("tpotFloorPlot: TPOT and floor per method; the largest size labelled with its ratio", () => {
  const svg = tpotFloorPlot([
    row("mamba-130m", "fp16", 2.65, 0.055),
    row("mamba-2.8b", "fp16", 6.88, 1.164),
    row("mamba-130m", "quamba-nbits", 3.22, 0.032),
    row("mamba-2.8b", "quamba-nbits", 8.29, 0.664),
    row("mamba-370m", "fp32", 9.9), // no floor: left out
  ], { ep: "CUDA", bandwidth: "4.8 TB/s" });
  const doc = parseSvg(svg);
  const all = texts(doc).join(" | ");
  assert.match(all, /6\.88 ms \(5\.9x floor\)/);
  assert.match(all, /8\.29 ms \(12\.5x floor\)/);
  assert.match(all, /Decode step vs the bandwidth floor \(CUDA\)/);
  assert.ok(!all.includes("fp32"), "a row without a floor is not drawn");
  // the floor: a dashed line group holding one path per method
  const dashed = [...doc.querySelectorAll('g[stroke-dasharray="5,4"] path')];
  assert.equal(dashed.length, 2, "one dashed floor line per method");
});
