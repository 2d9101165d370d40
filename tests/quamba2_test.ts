/**
 * Mamba-2's recipes (lib/quant/quamba2): the grouping of x, the quantized graphs against a
 * float64 emulation written here from the recipe's description (the float64 reference with every
 * activation rounded on the folder's scales and every weight rounded here), 4-bit MatMulNBits
 * against the dequantized product, and the measured order of the methods on the tiny trained
 * Mamba-2 (Quamba2's W8A8 closer to fp32 than naive W8A8, GPTQ closer than round-to-nearest).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Mamba2Config } from "../lib/arch/mamba2/config.ts";
import { ReferenceMamba2 } from "../lib/arch/mamba2/reference.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { hadamardRows } from "../lib/hadamard.ts";
import { loadModel, quantize } from "../mod.ts";
import { methodsFor } from "../lib/quant/methods.ts";
import { dequantize, quantizeRtn } from "../lib/quant/gptq.ts";
import { nbits4Hooks } from "../lib/quant/nbits4.ts";
import { groupChannels } from "../lib/quant/quamba2/reorder.ts";
import { rotatedMamba2 } from "../lib/quant/quamba2/build.ts";
import type { Graph } from "../lib/onnx/builder.ts";
import { GraphBuilder } from "../lib/onnx/layers.ts";
import { createSession, Tensor } from "../lib/runtime.ts";
import { writeModelFolder } from "../lib/onnx/save.ts";
import { relErr } from "./helpers/assert.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { tinyMamba2 } from "./helpers/mamba2.ts";
import { rng } from "./helpers/tiny.ts";

const TINY = new URL("./fixtures/mamba2_tiny", import.meta.url).pathname;
const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });

Deno.test("quamba2 groups: 4 head groups per SSD group, 4 contiguous channel groups per head group", () => {
  const h = 12, p = 8, g = 2, r = rng(3);
  // heads of three kinds (scale 1, 5, 25) with one outlier channel each
  const stat = Float64Array.from({ length: h * p }, (_, i) => {
    const hh = Math.floor(i / p), j = i % p;
    return (1 + 0.1 * r()) * 5 ** (hh % 3) * (j === (hh * 3) % p ? 40 : 1);
  });
  const out = groupChannels(stat, { h, p, g });
  assert.equal(out.count, 2 * 4 * 4);
  for (let hh = 0; hh < h; hh++) {
    const sg = Math.floor(hh / (h / g));
    const groups = Array.from({ length: p }, (_, j) => out.group[hh * p + j]);
    // a head's channels all lie in its SSD group's block and one head group
    const hgOf = groups.map((G) => Math.floor(G / 4));
    assert.ok(
      hgOf.every((x) => x === hgOf[0] && Math.floor(x / 4) === sg),
      `head ${hh}: ${groups}`,
    );
    // in the head's sorted order, channel groups never go down (contiguous groups)
    const order = Array.from({ length: p }, (_, j) => j).sort((a, b) =>
      stat[hh * p + a] - stat[hh * p + b]
    );
    const sorted = order.map((j) => groups[j] % 4);
    for (let k = 1; k < p; k++) assert.ok(sorted[k] >= sorted[k - 1], `head ${hh}: ${sorted}`);
    // the outlier channel has a group of its own kind: the largest
    assert.equal(sorted[p - 1], 3);
  }
  // heads of the same kind in an SSD group share a head group
  for (let a = 0; a < h; a++) {
    for (let b = 0; b < h; b++) {
      if (
        Math.floor(a / 6) === Math.floor(b / 6) && a % 3 === b % 3 && (a * 3) % p === (b * 3) % p
      ) {
        assert.equal(out.headGroup[a], out.headGroup[b], `heads ${a} and ${b}`);
      }
    }
  }
});

Deno.test("nbits4: MatMulNBits with packed 4-bit codes equals the dequantized product", async () => {
  const r = rng(9);
  for (const [out, inp, group] of [[5, 40, 16], [7, 200, 128], [3, 128, 32]]) {
    const W = Float32Array.from({ length: out * inp }, () => r());
    const q = quantizeRtn(W, out, inp, { bits: 4, group, symmetric: out === 7 });
    const Wd = dequantize(q);
    const spec = {
      hidden: inp,
      vocab: 1,
      eps: 1e-5,
      residualFp32: true,
      embedding: "",
      finalNorm: "",
      lmHead: "",
    };
    const B = new GraphBuilder("t", spec, { read: () => Promise.reject() }, {
      weights: "float32",
      compute: "float32",
    }, nbits4Hooks(new Map([["p", q]])));
    const x = B.g.input("x", "float32", [2, inp]);
    B.g.output(B.linear(x, "p", out, inp, false), "float32", [2, out], "y");
    const dir = await Deno.makeTempDir();
    await writeModelFolder(dir, { "m.onnx": B.g as Graph });
    const s = await createSession(join(dir, "m.onnx"), TEST_EP);
    const xs = Float32Array.from({ length: 2 * inp }, () => r());
    const y = (await s.run({ x: new Tensor("float32", xs, [2, inp]) })).y.data as Float32Array;
    const want = new Float32Array(2 * out);
    for (let b = 0; b < 2; b++) {
      for (let o = 0; o < out; o++) {
        let acc = 0;
        for (let i = 0; i < inp; i++) acc += xs[b * inp + i] * Wd[o * inp + i];
        want[b * out + o] = acc;
      }
    }
    assert.ok(relErr(y, want) < 1e-5, `[${out}, ${inp}] group ${group}: ${relErr(y, want)}`);
    await s.release();
  }
});

/** round half to even, clamp to int8, times s (float64) */
const fq = (x: number, s: number) => {
  const v = x / s, f = Math.floor(v);
  const r = v - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(v);
  return Math.min(127, Math.max(-128, r)) * s;
};

/** The float64 emulation of a W8A8 folder: its scales, weights rounded here. */
async function emulation(dir: string, method: string, qdir: string) {
  const ckpt = await openCheckpoint(dir);
  const rot = method === "quamba2-w8a8";
  const { config: cfg, src } = await rotatedMamba2(ckpt.config as Mamba2Config, ckpt.src, rot);
  const sc = JSON.parse(await Deno.readTextFile(join(qdir, "scales.json")));
  const { e, g, n, h } = {
    e: cfg.intermediate_size,
    g: cfg.n_groups,
    n: cfg.state_size,
    h: cfg.num_heads,
  };
  const perTensor = (w: Float32Array, from = 0, to = w.length) => {
    let m = 0;
    for (let i = from; i < to; i++) m = Math.max(m, Math.abs(w[i]));
    const s = Math.fround(Math.max(m, 1e-8) / 127);
    for (let i = from; i < to; i++) w[i] = Math.fround(fq(w[i], s));
  };
  const weights = new Map<string, Float32Array>();
  const read = async (name: string) => Float32Array.from(await src.read(name));
  const d = cfg.hidden_size, v = cfg.vocab_size;
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `backbone.layers.${i}.mixer`;
    const inW = await read(`${p}.in_proj.weight`);
    let at = 0;
    for (const rows of [e, e, g * n, g * n, h]) perTensor(inW, at * d, (at += rows) * d);
    weights.set(`${p}.in_proj.weight`, inW);
    const conv = await read(`${p}.conv1d.weight`), k = cfg.conv_kernel;
    const bias = await read(`${p}.conv1d.bias`);
    at = 0;
    for (const rows of [e, g * n, g * n]) {
      perTensor(conv, at * k, (at + rows) * k);
      perTensor(bias, at, at + rows);
      at += rows;
    }
    weights.set(`${p}.conv1d.weight`, conv);
    weights.set(`${p}.conv1d.bias`, bias);
    for (const t of ["A_log", "D", "out_proj.weight"]) {
      const w = await read(`${p}.${t}`);
      perTensor(w);
      weights.set(`${p}.${t}`, w);
    }
  }
  const head = cfg.tie_word_embeddings ? "backbone.embeddings.weight" : "lm_head.weight";
  const E = await read("backbone.embeddings.weight");
  const lm = await read(head);
  perTensor(lm);
  for (let r = 0; r < v; r++) {
    let m = -Infinity;
    for (let j = 0; j < d; j++) m = Math.max(m, E[r * d + j]);
    const s = Math.fround(m / 127);
    for (let j = 0; j < d; j++) E[r * d + j] = Math.fround(fq(E[r * d + j], s));
  }
  weights.set("backbone.embeddings.weight", E);
  const quantSrc = { read: (name: string) => Promise.resolve(weights.get(name) ?? src.read(name)) };
  const L = cfg.num_hidden_layers;
  const hooks = {
    act(layer: number, name: string, x: Float64Array) {
      if (name === "lm_head.input") return x.map((a) => fq(a, sc.mamba2.lm_head_input));
      const s = sc.activations[layer].scale, m = sc.mamba2.layers[layer];
      const per = (vec: number[]) => x.map((a, i) => fq(a, vec[i]));
      switch (name) {
        case "in_proj.input":
        case "z":
        case "dt":
          return x.map((a) => fq(a, s[name]));
        case "xBC":
        case "u":
        case "B":
        case "C":
          return per(m[name]);
        case "y":
          return Float64Array.from(rot ? hadamardRows(Float32Array.from(x), e) : x).map((a) =>
            fq(a, s.y)
          );
        default:
          return x;
      }
    },
  };
  const ref = await ReferenceMamba2.fromSource({ ...cfg, tie_word_embeddings: false }, {
    read: (name: string) => name === "lm_head.weight" ? Promise.resolve(lm) : quantSrc.read(name),
  }, hooks);
  return { ref, states: sc.mamba2.layers.map((l: { state: number[] }) => l.state), L };
}

for (
  const [label, dir, method] of [
    ["odd random, 2 groups", "", "quamba2-w8a8"],
    ["odd random, 2 groups", "", "w8a8"],
    ["tiny trained", TINY, "quamba2-w8a8"],
  ] as const
) {
  Deno.test(`${method} (${label}): prefill and decode equal a float64 emulation of the recipe`, async () => {
    const src = dir || await randomWithTokenizer();
    const qdir = await Deno.makeTempDir({ prefix: "quamba-q2-" });
    const calib = { source: "random", samples: [0, 1, 2, 3].map((s) => randomIds(40, 41, s)) };
    const q = await quantize(src, {
      method,
      calibration: calib,
      out: qdir,
      force: true,
      progress: false,
      cacheDir,
    });
    const { ref, states } = await emulation(src, method, qdir);
    const ids = randomIds(11, 41, 77);
    const state = ref.initialState();
    const want = ref.forward(ids.slice(0, 7), state).logits;
    // the state a graph returns is int8 on its scales
    state.ssm.forEach((st, i) => st.forEach((x, j) => (st[j] = fq(x, states[i][j]))));
    const got = await q.prefill([ids.slice(0, 7)]);
    assert.ok(relErr(got.logits, want) < 1e-4, `prefill: ${relErr(got.logits, want)}`);
    let s = got.state;
    for (let t = 7; t < 11; t++) {
      const step = await q.decode([ids[t]], s);
      const w = ref.step(ids[t], state);
      state.ssm.forEach((st, i) => st.forEach((x, j) => (st[j] = fq(x, states[i][j]))));
      assert.ok(relErr(step.logits, w) < 1e-4, `decode ${t}: ${relErr(step.logits, w)}`);
      s = step.state;
    }
    // the emulation is not the float model: the comparison can fail
    const fp = await loadModel(src, { cacheDir });
    assert.ok(relErr((await fp.prefill([ids.slice(0, 7)])).logits, want) > 3e-3);
    await fp.close();
    await q.close();
  });
}

/** A random odd Mamba-2 (2 groups of 4 heads of 5) with the tiny model's tokenizer. */
async function randomWithTokenizer(): Promise<string> {
  const { dir } = await tinyMamba2(
    { num_heads: 8, head_dim: 5, hidden_size: 20, vocab_size: 300 },
    11,
  );
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    await Deno.copyFile(join(TINY, f), join(dir, f));
  }
  return dir;
}

function randomIds(n: number, v: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor((r() + 1) / 2 * Math.min(v, 41)));
}

Deno.test("mamba2 methods: Quamba2's W8A8 nearer fp32 than naive W8A8 (rotation and groups each help), GPTQ nearer than round-to-nearest (tiny trained model)", async () => {
  assert.deepEqual(methodsFor("mamba2"), [
    "fp32",
    "fp16",
    "w8a8",
    "quamba2-w8a8",
    "quamba2-w4a8",
    "quamba2-w4a16",
    "w4a16-rtn",
  ]);
  const fp = await loadModel(TINY, { cacheDir });
  const text = await Deno.readTextFile(
    new URL("../data/heldout/time_machine.txt", import.meta.url),
  );
  const ids = fp.tokenizer.encode(text.slice(20000, 26000)).slice(0, 400);
  const v = fp.config.vocab_size, ref = await fp.logits(ids);
  const kl = (lg: Float32Array) => {
    let s = 0;
    for (let t = 0; t < ids.length; t++) {
      const a = ref.subarray(t * v, (t + 1) * v), b = lg.subarray(t * v, (t + 1) * v);
      const la = lse(a), lb = lse(b);
      for (let j = 0; j < v; j++) s += Math.exp(a[j] - la) * (a[j] - la - (b[j] - lb));
    }
    return s / ids.length;
  };
  const KL: Record<string, number> = {};
  const runs: [string, string, Record<string, boolean>?][] = [
    ["w8a8", "w8a8"],
    ["quamba2-w8a8", "quamba2-w8a8"],
    ["no rotation", "quamba2-w8a8", { rotate: false }],
    ["no groups", "quamba2-w8a8", { groups: false }],
    ["w4a16-rtn", "w4a16-rtn"],
    ["quamba2-w4a16", "quamba2-w4a16"],
  ];
  for (const [label, method, recipe] of runs) {
    const q = await quantize(TINY, {
      method,
      recipe,
      samples: 32,
      maxLen: 256,
      progress: false,
      cacheDir,
    });
    KL[label] = kl(await q.logits(ids));
    await q.close();
  }
  assert.ok(KL["quamba2-w8a8"] < 0.5 * KL.w8a8, JSON.stringify(KL));
  assert.ok(KL["quamba2-w4a16"] < 0.8 * KL["w4a16-rtn"], JSON.stringify(KL));
  // the ablations (8192 tokens in README "Mamba-2"): the rotation matters most, the groups too
  assert.ok(KL["no rotation"] > 2 * KL["quamba2-w8a8"], JSON.stringify(KL));
  assert.ok(KL["no groups"] > KL["quamba2-w8a8"], JSON.stringify(KL));
  await assert.rejects(
    () =>
      quantize(TINY, {
        method: "quamba2-w8a8",
        recipe: { rotation: false } as never,
        progress: false,
      }),
    /recipe: unknown part 'rotation' \(parts: wBits, aBits, gptq, rotate, groups, stateInt8\)/,
  );
  assert.ok(KL["quamba2-w8a8"] > 1e-4, "quantized models differ from fp32");
  await fp.close();
});

function lse(r: Float32Array) {
  let m = -Infinity;
  for (const x of r) m = Math.max(m, x);
  let z = 0;
  for (const x of r) z += Math.exp(x - m);
  return m + Math.log(z);
}

Deno.test("quamba2 folder: loads back with the same logits; time_step_limit keeps its Infinity", async () => {
  const out = await Deno.makeTempDir({ prefix: "quamba-q2-folder-" });
  const calib = { source: "random", samples: [randomIds(64, 300, 1), randomIds(64, 300, 2)] };
  const q = await quantize(TINY, {
    method: "quamba2-w8a8",
    calibration: calib,
    out,
    force: true,
    progress: false,
    cacheDir,
  });
  const back = await loadModel(out, { cacheDir });
  const cfg = back.config as Mamba2Config;
  assert.deepEqual(cfg.time_step_limit, [0, Infinity]);
  const manifest = JSON.parse(await Deno.readTextFile(join(out, "manifest.json")));
  assert.equal(manifest.recipe.groups, true);
  assert.deepEqual(manifest.config.time_step_limit[1], { __float__: "Infinity" });
  const ids = randomIds(20, 300, 5);
  assert.deepEqual(await back.logits(ids), await q.logits(ids));
  await back.close();
  await q.close();
});

Deno.test("bench graphs for Mamba-2: W8A8's projections get Q/DQ pairs before int8 weights; unknown methods are named", async () => {
  const { benchGraphs } = await import("../lib/bench/graphs.ts");
  const { parseMamba2Config } = await import("../lib/arch/mamba2/config.ts");
  const { syntheticWeights } = await import("../lib/synthetic.ts");
  const { TINY_MAMBA2 } = await import("./helpers/mamba2.ts");
  // d 24 and d_inner 48 (12 · 2^k: the rotations need a Hadamard order)
  const cfg = parseMamba2Config(
    { ...TINY_MAMBA2, hidden_size: 24, num_heads: 8, head_dim: 6 },
    "c",
  );
  const src = syntheticWeights(cfg);
  const { decode } = await benchGraphs(cfg, src, "quamba2-w8a8");
  const count = (op: string) => decode.nodes.filter((n) => n.opType === op).length;
  // in_proj and out_proj of each layer, and the lm_head
  assert.equal(count("QuantizeLinear"), 2 * cfg.num_hidden_layers + 1);
  await assert.rejects(() => benchGraphs(cfg, src, "quamba"), /'quamba' is not built for Mamba-2/);
  // d 15 has no Hadamard order: named before any work, with the way out
  const odd = parseMamba2Config({ ...TINY_MAMBA2 }, "c");
  await assert.rejects(
    () => benchGraphs(odd, syntheticWeights(odd), "quamba2-w8a8"),
    /quamba2-w8a8 rotates by Hadamard matrices of order hidden_size = 15: .*--recipe rotate=false/,
  );
});
