/** Activation statistics against direct computation, and the observation graph. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readArrowFile } from "../lib/arrow.ts";
import { loadCalibration } from "../lib/calibration.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { ActivationObserver } from "../lib/observe.ts";
import { hadamardRows } from "../lib/hadamard.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { collectStats, readStats, writeStats } from "../lib/stats/collect.ts";
import { Moments } from "../lib/stats/moments.ts";
import { AbsSketch, SKETCH_RELATIVE_ERROR } from "../lib/stats/sketch.ts";
import { TensorStats } from "../lib/stats/tensor_stats.ts";
import { TENSOR_NAMES } from "../lib/stats/schema.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";
import { assertClose } from "./helpers/assert.ts";
import { rng, tinyCheckpoint } from "./helpers/tiny.ts";
import { bytesOf } from "../lib/onnx/builder.ts";
import { writeSafetensors } from "../lib/safetensors.ts";

const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });

/** Exact q-quantile with linear interpolation (numpy's default). */
function exactQuantile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values).sort();
  const r = q * (s.length - 1), lo = Math.floor(r), hi = Math.ceil(r);
  return s[lo] + (r - lo) * (s[hi] - s[lo]);
}

/** Heavy-tailed test data: normal-ish with rare huge values and some exact zeros. */
function heavy(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, (_, i) => {
    if (i % 97 === 0) return 0;
    const g = (r() + r() + r()) / 1.5;
    return i % 1009 === 5 ? g * 300 : g;
  });
}

Deno.test("sketch: percentiles of |x| within the stated relative error of exact ones", () => {
  const x = heavy(200_000, 3);
  const s = new AbsSketch();
  s.add(x.subarray(0, 70_000));
  const t = new AbsSketch();
  t.add(x.subarray(70_000));
  s.merge(t);
  const abs = Array.from(x, Math.abs);
  for (const q of [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1]) {
    const want = exactQuantile(abs, q), got = s.quantile(q);
    assert.ok(
      Math.abs(got - want) <= SKETCH_RELATIVE_ERROR * want + 1e-12,
      `q=${q}: ${got} vs ${want}`,
    );
  }
  assert.equal(s.n, x.length);
  assert.equal(s.max, abs.reduce((a, b) => Math.max(a, b), 0));
  const h = s.histogram(4);
  assert.equal(h.reduce((a, b) => a + b.count, 0), x.length);
  assert.deepEqual(h[0], { lo: 0, hi: 0, count: abs.filter((v) => v === 0).length });
  for (const b of h.slice(1)) {
    const direct = abs.filter((v) => v >= b.lo && v < b.hi).length;
    assert.equal(b.count, direct, `bin [${b.lo}, ${b.hi})`);
    const octave = 2 ** Math.floor(Math.log2(b.lo));
    assert.ok(
      [1, 1.25, 1.5, 1.75].includes(b.lo / octave) && b.hi - b.lo === octave / 4,
      `edges ${b.lo}, ${b.hi}`,
    );
  }
});

Deno.test("moments: mean, std and kurtosis over merged batches equal direct computation", () => {
  const x = heavy(50_000, 9).map((v) => v + 1000); // a large mean must not cost precision
  const m = new Moments();
  for (let i = 0; i < x.length; i += 7_000) m.add(x.subarray(i, i + 7_000));
  const n = x.length;
  const mean = x.reduce((a, b) => a + b, 0) / n;
  let m2 = 0, m4 = 0;
  for (const v of x) {
    m2 += (v - mean) ** 2;
    m4 += (v - mean) ** 4;
  }
  assert.ok(Math.abs(m.mean - mean) < 1e-9 * Math.abs(mean));
  assert.ok(Math.abs(m.std - Math.sqrt(m2 / n)) < 1e-9 * Math.sqrt(m2 / n));
  const kurt = n * m4 / (m2 * m2);
  assert.ok(Math.abs(m.kurtosis - kurt) < 1e-9 * kurt, `${m.kurtosis} vs ${kurt}`);
});

Deno.test("tensor stats: per-channel absmax, and the per-sample percentile EMA", () => {
  const C = 8, samples = [heavy(800, 1), heavy(1600, 2), heavy(800, 3)];
  const s = new TensorStats(C, { emaPercentiles: [99, 99.999] });
  for (const x of samples) {
    s.add(x.subarray(0, 400));
    s.add(x.subarray(400));
    s.endSample();
  }
  const all = new Float32Array(samples.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const x of samples) all.set(x, (at += x.length) - x.length);
  for (let c = 0; c < C; c++) {
    let mx = 0;
    for (let i = c; i < all.length; i += C) mx = Math.max(mx, Math.abs(all[i]));
    assert.equal(s.channelAbsmax[c], mx);
  }
  for (const [k, p] of [99, 99.999].entries()) {
    let ema = NaN;
    samples.forEach((x, i) => {
      const v = exactQuantile(Array.from(x, Math.abs), p / 100);
      ema = i === 0 ? v : ema + 0.01 * (v - ema);
    });
    assert.ok(
      Math.abs(s.ema[k] - ema) <= SKETCH_RELATIVE_ERROR * ema,
      `ema p${p}: ${s.ema[k]} vs ${ema}`,
    );
  }
  assert.equal(s.samples, 3);
  assert.equal(s.add(Float32Array.from([1, 2, NaN, 4, 0, 0, 0, 0])), 2);
  assert.equal(s.add(Float32Array.from([1, 2, 3, -Infinity, 0, 0, 0, 0])), 3);
});

Deno.test("observation: activations are consistent with the weights, the Hadamard and chunking", async () => {
  const ckpt = await openCheckpoint(EMBEDDED_MODEL);
  const obs = await ActivationObserver.open(ckpt, { cacheDir });
  const tok = await loadTokenizer(EMBEDDED_MODEL);
  const ids = tok.encode(
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
  );
  const acts = new Map<string, { data: Float32Array; channels: number }>();
  await obs.observe(
    ids,
    (layer, tensor, data, channels) =>
      acts.set(`${layer}/${tensor}`, { data: data.slice(), channels }),
  );
  assert.equal(acts.size, 4 * TENSOR_NAMES.length);
  const { hidden_size: d, intermediate_size: e } = ckpt.config;
  // x and z are the halves of in_proj(input): recompute with the checkpoint's weight
  const W = await ckpt.store.read("backbone.layers.1.mixer.in_proj.weight"); // [2e, d]
  const inp = acts.get("1/in_proj.input")!.data,
    x = acts.get("1/x")!.data,
    z = acts.get("1/z")!.data;
  const want = new Float32Array(ids.length * 2 * e), got = new Float32Array(ids.length * 2 * e);
  for (let t = 0; t < ids.length; t++) {
    for (let o = 0; o < 2 * e; o++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += W[o * d + i] * inp[t * d + i];
      want[t * 2 * e + o] = s;
      got[t * 2 * e + o] = o < e ? x[t * e + o] : z[t * e + o - e];
    }
  }
  assertClose(got, want, 1e-5, "x|z = in_proj(input)");
  // y_had is the orthonormal Hadamard rotation of y
  assertClose(
    acts.get("2/y_had")!.data,
    hadamardRows(acts.get("2/y")!.data, e),
    1e-5,
    "y_had = H y",
  );
  // observing in chunks of 5 tokens gives the same activations
  const chunked = new Map<string, number[]>();
  await obs.observe(ids, (layer, tensor, data) => {
    const k = `${layer}/${tensor}`;
    chunked.set(k, [...(chunked.get(k) ?? []), ...data]);
  }, { chunk: 5 });
  for (const [k, v] of acts) assertClose(chunked.get(k)!, v.data, 1e-5, `chunked ${k}`);
  await obs.close();
});

Deno.test("stats: collected on the embedded model, written as Arrow and read back equal", async () => {
  const ckpt = await openCheckpoint(EMBEDDED_MODEL);
  const calib = await loadCalibration(
    "data/calibration/wikitext2_valid_sample.txt",
    await loadTokenizer(EMBEDDED_MODEL),
    {
      samples: 3,
      maxLen: 64,
    },
  );
  assert.deepEqual(calib.samples.map((s) => s.length), [64, 64, 64]);
  const stats = await collectStats(ckpt, calib, { progress: false, cacheDir });
  const dir = await Deno.makeTempDir();
  await writeStats(dir, stats);
  const back = await readStats(dir);
  assert.equal(back.meta.samples, "3");
  assert.equal(back.meta.source, "wikitext2_valid_sample.txt");
  assert.equal(back.meta.model, "embedded"); // the folder's name, not an absolute path
  // the in-memory tables carry the same metadata (the figures' subtitles read it)
  const mem = stats.tables();
  for (const t of [mem.scalars, mem.channels, mem.histograms]) {
    assert.equal(t.schema.metadata.get("model"), "embedded");
    assert.equal(t.schema.metadata.get("samples"), "3");
  }
  const rows = back.scalars.toArray();
  const u1 = stats.get(1, "u")!;
  const find = (stat: string) =>
    rows.find((r) => r.layer === 1 && r.tensor === "u" && r.statistic === stat)!.value;
  assert.equal(find("absmax"), u1.absmax);
  assert.equal(find("ema_p99.999"), u1.ema[0]);
  assert.equal(find("kurtosis"), u1.moments.kurtosis);
  assert.equal(find("count"), 3 * 64 * ckpt.config.intermediate_size);
  const ch = back.channels.toArray().filter((r) => r.layer === 1 && r.tensor === "u");
  assert.deepEqual(ch.map((r) => r.absmax), Array.from(u1.channelAbsmax));
  assert.equal(Math.max(...ch.map((r) => r.absmax)), u1.absmax);
  const hist = back.histograms.toArray().filter((r) => r.layer === 1 && r.tensor === "u");
  assert.equal(hist.reduce((a, r) => a + r.count, 0), u1.count);
  // the Hadamard rotation flattens the out_proj input's outliers: smaller kurtosis in every layer
  for (let i = 0; i < 4; i++) {
    assert.ok(stats.get(i, "y_had")!.moments.kurtosis < stats.get(i, "y")!.moments.kurtosis);
  }
  assert.equal((await readArrowFile(join(dir, "scalars.arrow"))).numRows, back.scalars.numRows);
});

Deno.test("stats: bad calibration input and non-finite activations give clear errors", async () => {
  const tok = await loadTokenizer(EMBEDDED_MODEL);
  const dir = await Deno.makeTempDir();
  const f = (name: string, text: string) => {
    Deno.writeTextFileSync(join(dir, name), text);
    return join(dir, name);
  };
  await assert.rejects(
    () => loadCalibration(f("empty.txt", "  \n\n"), tok),
    /empty\.txt: the calibration file is empty/,
  );
  await assert.rejects(
    () => loadCalibration(f("bad.jsonl", '{"text": "fine words"}\n{oops\n'), tok),
    /bad\.jsonl:2: not valid JSON/,
  );
  await assert.rejects(
    () => loadCalibration(f("nofield.jsonl", '{"txt": "x"}\n'), tok),
    /nofield\.jsonl:1: no "text"/,
  );
  await assert.rejects(
    () => loadCalibration(join(dir, "missing.txt"), tok),
    /missing\.txt: calibration file not found/,
  );
  const ok = await loadCalibration(
    f("docs.jsonl", '{"text": "one two three"}\n\n{"text": "four five six seven"}\n'),
    tok,
  );
  assert.equal(ok.samples.length, 2);
  // a D so large that D·u overflows makes the SSM output non-finite (a NaN weight is refused when
  // it is read): the error names layer, tensor and sample
  const { dir: ck } = await tinyCheckpoint({}, 3);
  const ckpt0 = await openCheckpoint(ck);
  const tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
  for (const n of ckpt0.store.names()) {
    const x = await ckpt0.store.read(n);
    if (n === "backbone.layers.1.mixer.D") x[3] = 3e38;
    tensors[n] = { dtype: "F32", shape: ckpt0.store.info(n).shape, data: bytesOf(x) };
  }
  await writeSafetensors(join(ck, "model.safetensors"), tensors);
  const calib = { source: "probe", samples: [[1, 2, 3, 4]] };
  await assert.rejects(
    async () => collectStats(await openCheckpoint(ck), calib, { progress: false, cacheDir }),
    /non-finite activation \((NaN|-?Infinity)\) in layer 1, tensor 'y_ssm', calibration sample 0 of probe/,
  );
});

Deno.test("stats: the tables read back calibrate like the statistics they came from", async () => {
  const { statsFromTables } = await import("../lib/stats/view.ts");
  const ckpt = await openCheckpoint(EMBEDDED_MODEL);
  const calib = await loadCalibration(
    "data/calibration/wikitext2_valid_sample.txt",
    await loadTokenizer(EMBEDDED_MODEL),
    {
      samples: 2,
      maxLen: 32,
    },
  );
  const stats = await collectStats(ckpt, calib, {
    progress: false,
    cacheDir,
    emaPercentiles: [99, 99.999],
  });
  const dir = await Deno.makeTempDir();
  await writeStats(dir, stats);
  const { scalars, channels } = await readStats(dir);
  const view = statsFromTables(scalars, channels);
  for (const t of TENSOR_NAMES) {
    const a = stats.get(3, t)!, b = view.get(3, t)!;
    assert.equal(b.absmax, a.absmax);
    assert.deepEqual(b.channelAbsmax, a.channelAbsmax);
    assert.deepEqual(b.emaPercentiles, [99, 99.999]);
    assert.deepEqual(b.ema, a.ema);
  }
});
