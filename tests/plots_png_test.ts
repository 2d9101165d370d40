import assert from "node:assert/strict";
import { join } from "node:path";
import { allFigures } from "../lib/plots/mod.ts";
import { FONT_FILES, svgToPng, svgToRgba } from "../lib/plots/png.ts";
import { syntheticStats, writeSyntheticStats } from "./helpers/synthetic_stats.ts";
import { parseSvg, texts } from "./helpers/svg_query.ts";
import { runTask } from "./helpers/cli.ts";

const figures = allFigures(syntheticStats());

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(png: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...png.slice(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
  assert.equal(new TextDecoder().decode(png.slice(12, 16)), "IHDR");
  const v = new DataView(png.buffer, png.byteOffset);
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

/** Pixels darker than mid-grey in a rectangle (whole image by default). */
function ink(svg: string, box?: { x0: number; y0: number; x1: number; y1: number }): number {
  const { width, height, pixels } = svgToRgba(svg, { scale: 1 });
  const { x0 = 0, y0 = 0, x1 = width, y1 = height } = box ?? {};
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) if (pixels[4 * (y * width + x)] < 128) n++;
  }
  return n;
}

Deno.test("png: every figure exports as a PNG of the SVG's size times the scale", () => {
  for (const { name, svg } of figures) {
    const root = parseSvg(svg).documentElement;
    const w = Number(root.getAttribute("width")), h = Number(root.getAttribute("height"));
    assert.deepEqual(pngSize(svgToPng(svg)), { width: 2 * w, height: 2 * h }, name);
    assert.deepEqual(pngSize(svgToPng(svg, { scale: 1 })), { width: w, height: h }, name);
  }
});

Deno.test("png: the shipped fonts exist, are small, and every character of the figures renders", () => {
  let bytes = 0;
  for (const f of FONT_FILES) bytes += Deno.statSync(f).size;
  assert.ok(bytes < 350_000, `fonts ${bytes} bytes`);
  const chars = new Set(figures.flatMap(({ svg }) => [...texts(parseSvg(svg)).join("")]));
  chars.delete(" ");
  assert.ok(chars.size > 40, `${chars.size} characters`);
  const missing = [...chars].filter((c) => {
    for (const weight of ["normal", "bold"]) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">` +
        `<text x="8" y="30" font-size="28" font-weight="${weight}" ` +
        `font-family="system-ui, sans-serif">${
          c.replace("&", "&amp;").replace("<", "&lt;")
        }</text></svg>`;
      if (ink(svg) === 0) return true;
    }
    return false;
  });
  assert.deepEqual(missing, [], "characters drawn as nothing (not in the font subset)");
  // a character outside the subset draws nothing: the check above can fail
  const outside = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">` +
    `<text x="8" y="30" font-size="28">✓</text></svg>`;
  assert.equal(ink(outside), 0);
});

Deno.test("png: a figure's title is drawn as text in the PNG", () => {
  const { svg } = figures[0];
  // the title line sits in the top 40 px; an empty rendering there means no font was used
  assert.ok(ink(svg, { x0: 0, y0: 0, x1: 400, y1: 40 }) > 300);
  const untitled = svg.replace(/<text[^>]*font-weight="bold"[^>]*>[^<]*<\/text>/, "");
  assert.equal(ink(untitled, { x0: 0, y0: 0, x1: 400, y1: 36 }), 0);
});

const plotsCli = (...args: string[]) => runTask("plots", args);

Deno.test("deno task plots: writes every figure as SVG and PNG; clear errors, no partial output", async () => {
  const dir = await Deno.makeTempDir();
  await writeSyntheticStats(dir, { layers: 2, hidden: 32, samples: 2, sampleLen: 64 });
  const ok = await plotsCli("--stats", dir, "--layer", "1", "--scale", "1");
  assert.equal(ok.code, 0, ok.stderr);
  const files = [...Deno.readDirSync(join(dir, "figures"))].map((e) => e.name).sort();
  const stems = [
    "absmax_heatmap",
    "channels_layer1",
    "clipping_u",
    "hadamard_layer1",
    "histograms_layer1",
  ];
  // every figure, and the kit's marker of the folder (lib/output.ts)
  assert.deepEqual(
    files,
    [".quamba-kit.json", ...stems.flatMap((s) => [`${s}.png`, `${s}.svg`])].sort(),
  );
  const svg = Deno.readTextFileSync(join(dir, "figures", "clipping_u.svg"));
  assert.ok(svg.startsWith("<svg xmlns="));
  const w = Number(svg.match(/width="(\d+)"/)![1]);
  assert.equal(pngSize(Deno.readFileSync(join(dir, "figures", "clipping_u.png"))).width, w);

  const badLayer = await plotsCli("--stats", dir, "--layer", "5", "--out", join(dir, "b"));
  assert.equal(badLayer.code, 1);
  assert.match(badLayer.stderr, /^error: channels table: no rows for layer 5 \(layers 0–1\)/);
  await Deno.remove(join(dir, "scalars.arrow"));
  const missing = await plotsCli("--stats", dir, "--out", join(dir, "c"));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no scalars\.arrow/);
  for (const d of ["b", "c"]) assert.throws(() => Deno.statSync(join(dir, d)));
  const usage = await plotsCli();
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /--stats DIR is required/);
});
