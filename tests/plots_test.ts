import assert from "node:assert/strict";
import { join } from "node:path";
import { tableFromArrays } from "apache-arrow";
import { writeArrowFile } from "../lib/arrow.ts";
import { KitError } from "../lib/errors.ts";
import {
  channelRows,
  fmt,
  histogramRows,
  logTicks,
  pow10Label,
  readStatsTables,
  scalarRows,
} from "../lib/plots/data.ts";
import {
  absmaxHeatmap,
  allFigures,
  channelOutliersPlot,
  clippingPlot,
  defaultLayer,
  hadamardPlot,
  histogramsPlot,
} from "../lib/plots/mod.ts";
import { TENSOR_NAMES } from "../lib/stats/schema.ts";
import { syntheticStats, writeSyntheticStats } from "./helpers/synthetic_stats.ts";
import {
  assertSnapshot,
  axisScale,
  axisTicks,
  marks,
  type Node,
  parseSvg,
  texts,
} from "./helpers/svg_query.ts";

const stats = syntheticStats();
const scalars = scalarRows(stats.scalars);
const LAYERS = [0, 1, 2, 3];
const scalar = (layer: number, tensor: string, statistic: string) =>
  scalars.find((r) => r.layer === layer && r.tensor === tensor && r.statistic === statistic)!
    .value;

Deno.test("plots: snapshots of every figure (UPDATE_SNAPSHOTS=1 rewrites them)", async () => {
  for (const { name, svg } of allFigures(stats, { layer: 1 })) await assertSnapshot(name, svg);
});

Deno.test("plots: every figure is one standalone SVG with a title and its text in SVG", () => {
  const figures = allFigures(stats);
  assert.equal(figures.length, 5);
  for (const { name, svg } of figures) {
    assert.match(
      svg,
      /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" xmlns:xlink="http:\/\/www\.w3\.org\/1999\/xlink" width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/,
      name,
    );
    assert.doesNotMatch(svg, /<(figure|div|h2|h3|span|canvas)\b/, `${name}: HTML inside`);
    const doc = parseSvg(svg);
    const title = doc.querySelector("text");
    assert.equal(title.getAttribute("font-weight"), "bold", name);
    assert.ok(title.textContent.length > 20, `${name}: title '${title.textContent}'`);
    const width = Number(doc.documentElement.getAttribute("width"));
    assert.ok(width >= 700 && width <= 900, `${name}: width ${width}`);
  }
});

Deno.test("plots: per-channel absmax of u and y shows every channel, the largest labelled", () => {
  const layer = 3;
  const svg = channelOutliersPlot(stats, { layer });
  const doc = parseSvg(svg);
  const channels = channelRows(stats.channels, layer);
  const panels = [...doc.querySelectorAll('g[aria-label="rule"]')]
    .filter((g: Node) => g.querySelectorAll("line").length > 2);
  assert.equal(panels.length, 2);
  for (const [i, tensor] of ["u", "y"].entries()) {
    const rows = channels.filter((r) => r.tensor === tensor);
    const lines = [...panels[i].querySelectorAll("line")];
    assert.equal(lines.length, rows.length);
    // the tallest bar is the largest channel: smallest y1 (y grows downwards)
    const top = (l: Node) => Math.min(Number(l.getAttribute("y1")), Number(l.getAttribute("y2")));
    const tallest = lines.reduce((a, b) => top(b) < top(a) ? b : a);
    const max = rows.reduce((a, b) => b.absmax > a.absmax ? b : a);
    assert.equal(lines.indexOf(tallest), max.channel);
    assert.ok(texts(doc).includes(`ch ${max.channel}`));
    assert.ok(texts(doc).some((t) => t.startsWith(`${tensor}: `) && t.includes(fmt(max.absmax))));
  }
  assert.equal(axisScale(doc, "y"), "linear");
  assert.ok(texts(doc)[0].includes(`layer ${layer}`));
});

Deno.test("plots: clipping figure has log y and one point per layer and series", () => {
  const doc = parseSvg(clippingPlot(stats));
  assert.equal(axisScale(doc, "y"), "log");
  assert.equal(marks(doc, "dot", "circle").length, LAYERS.length * 3); // absmax, p99.999, EMA
  const ratios = LAYERS.map((l) => scalar(l, "u", "absmax") / scalar(l, "u", "p99.999"));
  const subtitle = texts(doc).slice(1, 3).join(" ");
  assert.ok(subtitle.includes(`${fmt(Math.min(...ratios))}× to ${fmt(Math.max(...ratios))}×`));
  // the y axis covers every value
  const ticks = axisTicks(doc, "y").map((t) => t.value);
  const values = scalars.filter((r) => r.tensor === "u" && /absmax|p99\.999/.test(r.statistic));
  assert.ok(Math.min(...ticks) <= Math.min(...values.map((r) => r.value)));
  assert.ok(Math.max(...ticks) >= Math.max(...values.map((r) => r.value)));
});

Deno.test("plots: Hadamard figure is log-log and marks both absmax values", () => {
  const layer = 2;
  const doc = parseSvg(hadamardPlot(stats, { layer }));
  assert.equal(axisScale(doc, "x"), "log");
  assert.equal(axisScale(doc, "y"), "log");
  const [y, had] = ["y", "y_had"].map((t) => scalar(layer, t, "absmax"));
  assert.ok(y / had > 3, "synthetic y_had should be much flatter than y");
  const all = texts(doc);
  assert.ok(all.includes(`absmax ${fmt(y)}`) && all.includes(`absmax ${fmt(had)}`));
  assert.ok(all.join(" ").includes(`shrinks ${fmt(y / had)}×`));
  const bins = histogramRows(stats.histograms, layer).filter((r) => r.lo > 0);
  const points = bins.filter((r) => r.tensor === "y" || r.tensor === "y_had").length;
  assert.equal(marks(doc, "dot", "circle").length, points);
  // without the scalars table it falls back to the top bin's edge
  const histOnly = texts(parseSvg(hadamardPlot({ histograms: stats.histograms }, { layer })));
  assert.ok(histOnly.some((t) => t.startsWith("top bin edge ")));
});

Deno.test("plots: heat map has one cell per layer × tensor, values on the cells, log legend", () => {
  const doc = parseSvg(absmaxHeatmap(stats));
  assert.equal(marks(doc, "cell", "rect").length, LAYERS.length * TENSOR_NAMES.length);
  const labels = texts(doc);
  for (const layer of LAYERS) {
    for (const tensor of TENSOR_NAMES) {
      assert.ok(labels.includes(fmt(scalar(layer, tensor, "absmax"))), `${layer} ${tensor}`);
    }
  }
  // the legend ramp (first x axis) is log; the heat map's x axis lists the tensors in order
  assert.equal(axisScale(doc, "x"), "log");
  const xLabels = [...doc.querySelectorAll('g[aria-label="x-axis tick label"]')].at(-1);
  assert.deepEqual([...xLabels.querySelectorAll("text")].map((t: Node) => t.textContent), [
    ...TENSOR_NAMES,
  ]);
});

Deno.test("plots: histograms have one panel per tensor, log-log, zeros noted", () => {
  const layer = 0;
  const doc = parseSvg(histogramsPlot(stats, { layer }));
  const labels = texts(doc);
  for (const t of TENSOR_NAMES) assert.ok(labels.includes(t), t);
  assert.equal(axisScale(doc, "x"), "log");
  assert.equal(axisScale(doc, "y"), "log");
  const rows = histogramRows(stats.histograms, layer);
  assert.equal(marks(doc, "rect", "rect").length, rows.filter((r) => r.lo > 0).length);
  const zeros = rows.filter((r) => r.lo === 0);
  assert.deepEqual(zeros.map((r) => r.tensor), ["x"]);
  assert.ok(labels.join(" ").includes(`x: ${zeros[0].count}`));
});

Deno.test("plots: the default layer is the one with the most outlier-dominated y", () => {
  const ratio = (l: number) => scalar(l, "y", "absmax") / scalar(l, "y", "p99");
  const best = LAYERS.reduce((a, b) => ratio(b) > ratio(a) ? b : a);
  assert.equal(defaultLayer(stats.scalars), best);
  assert.ok(allFigures(stats)[0].name === `channels_layer${best}`);
});

Deno.test("plots: errors name the table, column, layer or tensor at fault", () => {
  const noValue = tableFromArrays({
    layer: Int32Array.from([0]),
    tensor: ["u"],
    statistic: ["absmax"],
  });
  assert.throws(
    () => clippingPlot({ scalars: noValue }),
    (e) =>
      e instanceof KitError &&
      /scalars table: missing column 'value' \(columns: layer, tensor, statistic\)/.test(e.message),
  );
  assert.throws(
    () => channelOutliersPlot(stats, { layer: 7 }),
    /channels table: no rows for layer 7 \(layers 0–3\)/,
  );
  assert.throws(
    () => channelOutliersPlot(stats, { layer: 0, tensors: ["w"] }),
    /channels table: no rows for tensor 'w' in layer 0/,
  );
  assert.throws(
    () => clippingPlot(stats, { tensor: "q" }),
    /scalars table: no 'absmax' rows for tensor 'q'/,
  );
  assert.throws(() => absmaxHeatmap(stats, { statistic: "p42" }), /scalars table: no 'p42' rows/);
});

Deno.test("plots: readStatsTables names the missing folder, table file or column", async () => {
  const dir = await Deno.makeTempDir();
  await writeSyntheticStats(dir, { layers: 1, hidden: 16, samples: 1, sampleLen: 8 });
  const back = await readStatsTables(dir);
  assert.equal(back.scalars.numRows, stats.scalars.numRows / 4);
  await assert.rejects(() => readStatsTables(join(dir, "nope")), /nope: no such stats folder/);
  const path = join(dir, "histograms.arrow");
  await writeArrowFile(path, tableFromArrays({ layer: Int32Array.from([0]), lo: [1], hi: [2] }));
  await assert.rejects(
    () => readStatsTables(dir),
    (e) => e instanceof KitError && e.message.includes(`${path}: missing column 'tensor'`),
  );
  await Deno.remove(join(dir, "channels.arrow"));
  await assert.rejects(
    () => readStatsTables(dir),
    (e) => e instanceof KitError && e.message.includes(`${dir}: no channels.arrow`),
  );
});

Deno.test("plots: label helpers format numbers and log ticks", () => {
  assert.deepEqual([63.5912, 2.5e-5, 0, 123456, 0.5].map(fmt), [
    "63.6",
    "2.50e-5",
    "0",
    "1.23e+5",
    "0.5",
  ]);
  assert.deepEqual([1e-5, 2e-5, 0.01, 0.1, 1, 1000, 1e6].map(pow10Label), [
    "10⁻⁵",
    "",
    "0.01",
    "0.1",
    "1",
    "1000",
    "10⁶",
  ]);
  assert.deepEqual(logTicks([1.5, 60]), [2, 5, 10, 20, 50]);
  assert.deepEqual(logTicks([0.01, 0.03]), [0.01, 0.02]);
});

Deno.test("plots: 64-bit integer and dictionary-encoded columns read like int32 and utf8", () => {
  const t = tableFromArrays({
    layer: BigInt64Array.from([0n, 1n, 1n]),
    tensor: ["u", "u", "y"], // tableFromArrays makes this a dictionary column
    channel: BigInt64Array.from([0n, 0n, 0n]),
    absmax: Float64Array.from([1, 2, 3]),
  });
  assert.deepEqual(channelRows(t, 1), [
    { layer: 1, tensor: "u", channel: 0, absmax: 2 },
    { layer: 1, tensor: "y", channel: 0, absmax: 3 },
  ]);
});
