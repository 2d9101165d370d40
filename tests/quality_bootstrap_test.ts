/**
 * The cluster bootstrap (lib/quality/bootstrap.ts) against a direct computation: the same seeded
 * draws, windows concatenated, statistics computed the plain way; and the scoring windows.
 */
import assert from "node:assert/strict";
import { clusterDraws, ClusteredSample, quantileSorted } from "../lib/quality/bootstrap.ts";
import { positionBuckets, scoringWindows } from "../lib/quality/windows.ts";
import { mulberry32 } from "../lib/random.ts";

Deno.test("quantiles: inverse of the empirical distribution function", () => {
  const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(quantileSorted(s, 0.5), 5);
  assert.equal(quantileSorted(s, 0.9), 9);
  assert.equal(quantileSorted(s, 0.91), 10);
  assert.equal(quantileSorted(s, 0), 1);
  assert.equal(quantileSorted(s, 1), 10);
  const one = new ClusteredSample(Float64Array.from([5, 1, 4, 2, 3]), [0, 0, 1, 1, 1], 2);
  assert.deepEqual(one.quantiles([0.2, 0.5, 0.99, 1]), [1, 3, 5, 5]);
  assert.equal(one.mean(), 3);
  assert.equal(one.max(), 5);
  // a draw that takes window 1 twice and window 0 never: values 4, 2, 3, 4, 2, 3
  const w = Uint16Array.of(0, 2);
  assert.equal(one.mean(w), 3);
  assert.deepEqual(one.quantiles([0.5, 1], w), [3, 4]);
  assert.equal(one.max(w), 4);
});

Deno.test("draws: seeded, each picks as many windows as there are", () => {
  const a = clusterDraws(7, { resamples: 50, seed: 3 });
  assert.deepEqual(a, clusterDraws(7, { resamples: 50, seed: 3 }));
  assert.notDeepEqual(a, clusterDraws(7, { resamples: 50, seed: 4 }));
  assert.ok(a.every((c) => c.reduce((s, v) => s + v, 0) === 7));
});

Deno.test("bootstrap intervals equal a direct computation with the same seed", () => {
  const r = mulberry32(11), W = 9, L = 13;
  const values = Float64Array.from({ length: W * L }, () => r() ** 3);
  const cluster = Int32Array.from(values.keys(), (k) => Math.floor(k / L));
  const s = new ClusteredSample(values, cluster, W);
  const B = 400, seed = 99;
  const got = s.estimates(
    (c) => [s.mean(c), ...s.quantiles([0.5, 0.9, 0.99], c), s.max(c)],
    clusterDraws(W, { resamples: B, seed }),
    0.9,
  );
  // direct: the same draws from mulberry32, windows concatenated, statistics the plain way
  const rng = mulberry32(seed);
  const boot: number[][] = [[], [], [], [], []];
  for (let b = 0; b < B; b++) {
    const xs: number[] = [];
    for (let j = 0; j < W; j++) {
      const w = Math.floor(rng() * W);
      xs.push(...values.subarray(w * L, (w + 1) * L));
    }
    const sorted = [...xs].sort((x, y) => x - y);
    const q = (p: number) => sorted[Math.ceil(p * sorted.length - 1e-9) - 1];
    [xs.reduce((a, v) => a + v, 0) / xs.length, q(0.5), q(0.9), q(0.99), sorted.at(-1)!]
      .forEach((v, k) => boot[k].push(v));
  }
  const all = [...values].sort((x, y) => x - y);
  const point = [
    values.reduce((a, v) => a + v, 0) / values.length,
    all[Math.ceil(0.5 * all.length) - 1],
    all[Math.ceil(0.9 * all.length) - 1],
    all[Math.ceil(0.99 * all.length) - 1],
    all.at(-1)!,
  ];
  boot.forEach((bs, k) => {
    const sorted = bs.sort((x, y) => x - y);
    const lo = sorted[Math.ceil(0.05 * B) - 1], hi = sorted[Math.ceil(0.95 * B) - 1];
    const tol = k === 0 ? 1e-12 : 0; // means: summation order differs; order statistics: exact
    assert.ok(Math.abs(got[k].value - point[k]) <= tol, `statistic ${k}: value`);
    assert.ok(Math.abs(got[k].lo - lo) <= tol, `statistic ${k}: lo ${got[k].lo} vs ${lo}`);
    assert.ok(Math.abs(got[k].hi - hi) <= tol, `statistic ${k}: hi ${got[k].hi} vs ${hi}`);
    assert.ok(got[k].lo <= got[k].hi);
  });
});

Deno.test("scoring windows: whole windows, targets shifted by one, clear errors", () => {
  const ids = Array.from({ length: 50 }, (_, i) => i);
  const w = scoringWindows(ids, { tokens: 40, window: 8 });
  assert.equal(w.inputs.length, 5);
  assert.deepEqual(w.inputs[1], [8, 9, 10, 11, 12, 13, 14, 15]);
  assert.deepEqual(w.targets[4], [33, 34, 35, 36, 37, 38, 39, 40]);
  assert.equal(scoringWindows(ids, { tokens: 1000, window: 8 }).inputs.length, 6); // 49 / 8
  assert.throws(() => scoringWindows(ids, { tokens: 1000, window: 25 }), /need at least 2/);
  assert.throws(() => scoringWindows(ids, { tokens: 100, window: 0 }), /window/);
  assert.deepEqual(positionBuckets(8), [[0, 1], [1, 2], [2, 4], [4, 8]]);
  assert.deepEqual(positionBuckets(6), [[0, 1], [1, 2], [2, 4], [4, 6]]);
});
