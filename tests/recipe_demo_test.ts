import assert from "node:assert/strict";
import { hadamardRows } from "../lib/hadamard.ts";
import { recipeFigures } from "../lib/plots/recipe.ts";
import { svgToPng } from "../lib/plots/png.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { absmax, quantizeValue, scaleOf } from "../lib/quant/int8.ts";
import {
  channelAbsmax,
  clippingSweep,
  collectLayer,
  errorByMagnitude,
  fakeQuantize,
  percentileAbs,
  quantizationError,
  recipeRows,
  rotatedQuantization,
} from "../lib/notebook/recipe_demo.ts";

/** Seeded values with a few large outliers (a heavy tail, like activations). */
function sample(n: number, seed = 1): Float32Array {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Float32Array.from({ length: n }, (_, i) => {
    const g = (rand() + rand() + rand() - 1.5) * 2;
    return i % 97 === 5 ? g * 40 : g;
  });
}

Deno.test("recipe: quantizationError matches a direct computation", () => {
  const x = sample(4096);
  const amax = percentileAbs(x, 99);
  const s = scaleOf(amax);
  let se = 0, sx = 0, maxErr = 0, clipped = 0, zeros = 0;
  for (const v of x) {
    const xh = Math.fround(quantizeValue(v, s) * s);
    se += (xh - v) ** 2;
    sx += v * v;
    maxErr = Math.max(maxErr, Math.abs(xh - v));
    if (Math.abs(v) > 127.5 * s) clipped++;
    if (v !== 0 && Math.abs(v) < s / 2) zeros++;
  }
  const e = quantizationError(x, s);
  assert.equal(e.scale, s);
  assert.ok(Math.abs(e.mse - se / x.length) < 1e-12);
  assert.equal(e.maxError, maxErr);
  assert.ok(Math.abs(e.sqnrDb - 10 * Math.log10(sx / se)) < 1e-9);
  assert.equal(e.clippedFraction, clipped / x.length);
  assert.equal(e.zeroFraction, zeros / x.length);
  assert.ok(e.clippedFraction > 0 && e.clippedFraction <= 0.011);
  // at the max scale nothing clips and the error is at most half a step
  const m = quantizationError(x, scaleOf(absmax(x)));
  assert.equal(m.clippedFraction, 0);
  assert.ok(m.maxError <= m.scale / 2 + 1e-6);
  // exact values: no error
  assert.equal(quantizationError(Float32Array.from([0, 1, -2]), 1).sqnrDb, Infinity);
});

Deno.test("recipe: percentiles, channel absmax, fakeQuantize", () => {
  assert.equal(percentileAbs(Float32Array.from([-4, 1, 2, 3]), 50), 2);
  assert.equal(percentileAbs(Float32Array.from([-4, 1, 2, 3]), 100), 4);
  assert.equal(percentileAbs(Float32Array.from([-4, 1, 2, 3]), 75.1), 4);
  assert.throws(() => percentileAbs([1], 0), /percentile/);
  assert.deepEqual([...channelAbsmax(Float32Array.from([1, -5, -2, 3]), 2)], [2, 5]);
  assert.throws(() => channelAbsmax([1, 2, 3], 2), /not rows of 2/);
  assert.deepEqual([...fakeQuantize([0.26, -3, 100], 0.5)], [0.5, -3, 63.5]);
});

Deno.test("recipe: errorByMagnitude bins |x| in quarter octaves with the mean error", () => {
  const x = Float32Array.from([0, 1, 1.1, 1.3, -3, 0.001]);
  const xh = Float32Array.from([0, 1.5, 1.1, 1.3, -2, 0.001]);
  const bins = errorByMagnitude(x, xh);
  assert.deepEqual(bins.map((b) => [b.lo, b.hi, b.count]), [
    [2 ** -10 * 1, 2 ** -10 * 1.25, 1],
    [1, 1.25, 2],
    [1.25, 1.5, 1],
    [3, 3.5, 1],
  ]);
  assert.equal(bins[1].meanError, 0.25);
  assert.equal(bins[3].meanError, 1);
  assert.equal(bins[1].share, 2 / 6);
  assert.ok(Number.isNaN(errorByMagnitude(x)[0].meanError));
});

Deno.test("recipe: the Hadamard path spreads an outlier channel and lowers the error", () => {
  const n = 64, rows = 32;
  const x = sample(n * rows, 7).map((v, i) => (i % n === 3 ? v * 60 : v));
  const r = rotatedQuantization(x, n);
  assert.deepEqual(r.rotated, hadamardRows(x, n));
  // the error in the original space equals the one in the rotated space (H orthonormal)
  const inRotated = quantizationError(r.rotated, r.scale);
  assert.ok(Math.abs(r.error.mse - inRotated.mse) / inRotated.mse < 1e-3);
  const direct = quantizationError(x, scaleOf(absmax(x)));
  assert.ok(r.scale < direct.scale / 3, `${r.scale} vs ${direct.scale}`);
  assert.ok(r.error.sqnrDb > direct.sqnrDb + 5);
  const ch = channelAbsmax(x, n), chr = channelAbsmax(r.rotated, n);
  assert.ok(absmax(chr) < absmax(ch) / 3);
});

Deno.test("recipe: collectLayer gives one layer's u, y, y_had; the table's four cases", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });
  try {
    const layer = await collectLayer(EMBEDDED_MODEL, {
      layer: 1,
      samples: 1,
      maxLen: 64,
      cacheDir,
    });
    assert.equal(layer.channels, 512);
    assert.equal(layer.tokens, 64);
    assert.equal(layer.u.length, 64 * 512);
    assert.equal(layer.y.length, layer.u.length);
    // the observer graph's ONNX rotation is the same transform as hadamardRows
    const mine = hadamardRows(layer.y, layer.channels);
    let d = 0;
    for (let i = 0; i < mine.length; i++) d = Math.max(d, Math.abs(mine[i] - layer.yHad[i]));
    assert.ok(d < 1e-3 * absmax(layer.yHad), `max difference ${d}`);
    const rows = recipeRows(layer, { percentile: 99.9 }); // (p99.999 of 32768 values is the max)
    assert.deepEqual(rows.map((r) => r.tensor), ["u", "u", "y", "y"]);
    assert.ok(rows[1].scale < rows[0].scale && rows[0]["clipped %"] === 0);
    await assert.rejects(collectLayer(EMBEDDED_MODEL, { layer: 9, cacheDir }), /out of range/);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("recipe: clippingSweep rows agree with quantizationError at each percentile", () => {
  const x = sample(20000, 3);
  const rows = clippingSweep(x, [99.9, 99]);
  assert.deepEqual(rows.map((r) => r.bound), ["p99", "p99.9", "max"]);
  for (const r of rows) {
    const e = quantizationError(x, scaleOf(percentileAbs(x, r.percentile)));
    assert.equal(r.scale, e.scale);
    assert.equal(r["SQNR dB"], e.sqnrDb);
  }
  assert.equal(rows[2].scale, scaleOf(absmax(x)));
  assert.ok(rows[0]["clipped %"] > rows[1]["clipped %"] && rows[2]["clipped %"] === 0);
});

Deno.test("recipe: the figures of one layer are standalone SVGs that render", () => {
  const n = 64, rows = 64;
  const u = sample(n * rows, 11);
  const y = sample(n * rows, 5).map((v, i) => (i % n === 9 ? v * 50 : v));
  const figs = recipeFigures({
    model: "synthetic",
    layer: 2,
    channels: n,
    tokens: rows,
    samples: 1,
    u,
    y,
    yHad: hadamardRows(y, n),
  }, { percentile: 99.9 });
  assert.deepEqual(Object.keys(figs), [
    "distributions",
    "clippingError",
    "clippingSweep",
    "hadamardChannels",
    "hadamardDistributions",
    "hadamardError",
  ]);
  for (const [name, svg] of Object.entries(figs)) {
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, name);
    assert.match(svg, /layer 2/, name);
    assert.doesNotMatch(svg, /NaN|undefined/, name);
    const png = svgToPng(svg, { scale: 1 });
    assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47], name); // "PNG"
  }
  assert.match(figs.clippingError, /p99\.9 scale: step/);
  assert.match(figs.clippingSweep, /none clipped/);
});
