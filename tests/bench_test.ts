/**
 * The latency harness's arithmetic (statistics, memory accounting, bandwidth floor, targets)
 * and the benchmark's graph rewrites (exact: same outputs); nothing here is timed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { bandwidthFloor } from "../lib/bench/bandwidth.ts";
import { cpuFlags } from "../lib/bench/env.ts";
import { benchGraphs, fixedPlan } from "../lib/bench/graphs.ts";
import { epOverhead, stepKernels } from "../lib/bench/kernels.ts";
import { methodSpec } from "../lib/quant/methods.ts";
import { nbitsHooks } from "../lib/quant/nbits.ts";
import { qdqHooks } from "../lib/quant/qdq.ts";
import { transformWeights } from "../lib/quant/transform.ts";
import { PARALLEL_SCAN_MAX } from "../lib/arch/mamba/graph.ts";
import { promptIds, summarizeLatency } from "../lib/bench/latency.ts";
import {
  bytesReadPerRun,
  initializers,
  readModelProto,
  stateBytes,
  weightBytes,
} from "../lib/bench/memory.ts";
import { openBenchModel } from "../lib/bench/open.ts";
import { opTimes } from "../lib/bench/profile.ts";
import { type BenchRow, formatTable, readBenchRows } from "../lib/bench/table.ts";
import { H200_RESULTS } from "../lib/paths.ts";
import { checkTargets } from "../lib/bench/targets.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { expectedTensors } from "../lib/checkpoint.ts";
import { buildDecode, buildPrefill } from "../lib/arch/mamba/graph.ts";
import { buildGraphs } from "../lib/model.ts";
import { bytesOf, Graph } from "../lib/onnx/builder.ts";
import { writeModelFolder } from "../lib/onnx/save.ts";
import { int8Head, quantizeBlocks } from "../lib/quant/head8.ts";
import { OverriddenWeights } from "../lib/quant/transform.ts";
import { summarize } from "../lib/stats_time.ts";
import { tinyCheckpoint } from "./helpers/tiny.ts";

const { dir: ckptDir, config } = await tinyCheckpoint({ hidden_size: 64, vocab_size: 96 });
const ckpt = await openCheckpoint(ckptDir);
const f32 = { weights: "float32", compute: "float32" } as const;

/** Runs a prefill of `ids` then one decode step; returns [prefill logits, decode logits]. */
async function run(prefill: Graph, decode: Graph, ids = [1, 5, 7, 9, 2]) {
  const dir = await Deno.makeTempDir({ prefix: "quamba-bench-test-" });
  try {
    await writeModelFolder(join(dir, "m"), { "prefill.onnx": prefill, "decode.onnx": decode });
    const m = await openBenchModel(join(dir, "m"), { config, source: "tiny", method: "t" }, "cpu");
    const p = await m.prefill([ids]);
    const d = await m.decode([3], p.state);
    await m.close();
    return [p.logits, d.logits];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The float values MatMulNBits computes with: codes × block scales, padding dropped. */
function dequantizeBlocks(w: Float32Array, rows: number, cols: number): Float32Array {
  const { codes, scales } = quantizeBlocks(w, rows, cols);
  const nb = Math.ceil(cols / 32), out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const b = Math.floor(c / 32);
      out[r * cols + c] = (codes[(r * nb + b) * 32 + (c % 32)] - 128) * scales[r * nb + b];
    }
  }
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

Deno.test("summarize: mean, median, p90 (nearest rank)", () => {
  const s = summarize([5, 1, 4, 2, 3, 6, 7, 8, 9, 10]);
  assert.deepEqual(s, { mean: 5.5, median: 5.5, p90: 9, n: 10 });
  assert.equal(summarize([3, 1, 2]).median, 2);
});

Deno.test("summarizeLatency: TTFT from prefill, TPOT per generation, TTLT the sum", () => {
  const r = summarizeLatency([[100, 10, 20], [200, 30, 30]], 8, 3);
  assert.equal(r.ttft.mean, 150);
  assert.equal(r.tpot.mean, (15 + 30) / 2);
  assert.equal(r.ttlt.mean, (130 + 260) / 2);
  assert.equal(r.steps.n, 4);
  assert.equal(r.steps.median, 25);
  // a single generated token has no decode step
  assert.ok(Number.isNaN(summarizeLatency([[100]], 8, 1).tpot.mean));
  assert.deepEqual(promptIds(3, 10), [1, 0, 9]); // (i * 7919 + 11) % 10
});

Deno.test("memory: state bytes from the config, weight bytes from the graphs' initializers", async () => {
  const L = config.num_hidden_layers, e = config.intermediate_size, n = config.state_size;
  assert.equal(stateBytes(config), L * (e * (config.conv_kernel - 1) + e * n) * 4);
  assert.equal(stateBytes(config, 3), 3 * stateBytes(config));
  const dir = await Deno.makeTempDir({ prefix: "quamba-bench-test-" });
  try {
    await buildGraphs(dir, config, ckpt.store, f32);
    const pre = await readModelProto(join(dir, "prefill.onnx"));
    const dec = await readModelProto(join(dir, "decode.onnx"));
    const params = [...expectedTensors(config).values()].reduce(
      (a, s) => a + 4 * s.reduce((x, y) => x * y, 1),
      0,
    );
    // every parameter once (shared by both graphs), plus the graphs' small constants
    const consts = (m: typeof pre) =>
      [...initializers(m)].filter(([k]) => !k.startsWith("backbone") && k !== "lm_head.weight")
        .reduce((a, [, t]) => a + t.bytes, 0);
    assert.equal(
      weightBytes([pre, dec]),
      params + consts(pre) + consts(dec) - sharedConsts(pre, dec),
    );
    // a tied table is read whole by the lm_head: a decode step reads every decode initializer
    const decAll = [...initializers(dec).values()].reduce((a, t) => a + t.bytes, 0);
    assert.equal(bytesReadPerRun(dec), decAll);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function sharedConsts(a: Awaited<ReturnType<typeof readModelProto>>, b: typeof a): number {
  const ia = initializers(a), ib = initializers(b);
  let s = 0;
  for (const [k, t] of ia) {
    if (!k.startsWith("backbone") && k !== "lm_head.weight" && ib.has(k)) s += t.bytes;
  }
  return s;
}

Deno.test("memory: a table only gathered from is read one row per token", async () => {
  const g = new Graph("gather");
  const ids = g.input("ids", "int64", ["b"]);
  g.init("table", "float32", [10, 4], () => bytesOf(new Float32Array(40)));
  g.init("w", "float32", [4, 2], () => bytesOf(new Float32Array(8)));
  g.output(g.op("MatMul", [g.op("Gather", ["table", ids]), "w"]), "float32", ["b", 2], "y");
  const dir = await Deno.makeTempDir({ prefix: "quamba-bench-test-" });
  try {
    await writeModelFolder(join(dir, "m"), { "m.onnx": g }, { inlineBelow: 1 });
    const m = await readModelProto(join(dir, "m", "m.onnx"));
    assert.equal(bytesReadPerRun(m), 16 + 32);
    assert.equal(bytesReadPerRun(m, 3), 3 * 16 + 32);
    assert.equal(weightBytes([m]), 160 + 32);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bandwidthFloor: bytes of weights and state over bandwidth", () => {
  const f = bandwidthFloor({ weightBytes: 1e9, stateBytes: 0, bytesPerSecond: 1e10, stepMs: 150 });
  assert.equal(f.floorMs, 100);
  assert.equal(f.ratio, 1.5);
  // the state is read and written once per step
  assert.equal(
    bandwidthFloor({ weightBytes: 0, stateBytes: 5e8, bytesPerSecond: 1e10 }).floorMs,
    100,
  );
});

function row(
  method: string,
  bits: string,
  ttft: number,
  tpot: number,
  floorRatio?: number,
): BenchRow {
  const s = (x: number) => ({ mean: x, median: x, p90: x, n: 1 });
  return {
    model: "mamba-130m",
    method,
    weights: "synthetic",
    bits,
    weightBytes: 1e6,
    stateBytes: 1e3,
    decodeBytesPerToken: 1e6,
    peakRssBytes: 1e7,
    latency: {
      ttft: s(ttft),
      tpot: s(tpot),
      ttlt: s(ttft + tpot),
      steps: s(tpot),
      prompt: 8,
      gen: 2,
    },
    floorRatio,
    fusedPrefill: {},
    fusedDecode: {},
    nodesDecode: 1,
  };
}

Deno.test("checkTargets: speed-ups against fp32 and the floor ratio", () => {
  const rows = [row("fp32", "W32A32", 900, 20), row("quamba", "W8A8", 300, 10, 1.6)];
  const t = checkTargets(rows);
  assert.deepEqual(
    t.map((x) => [x.name, x.value, x.met]),
    [
      ["TPOT speed-up vs fp32", 2, false],
      ["TTFT speed-up vs fp32", 3, true],
      ["decode / bandwidth floor", 1.6, false],
    ],
  );
  assert.equal(checkTargets(rows, "mamba-370m").length, 0);
  const table = formatTable(rows);
  assert.match(table, /quamba\s+W8A8/);
  assert.match(table, /3\.00\/2\.00\/2\.97/); // 900/300, 20/10, 920/310
});

Deno.test("cpuFlags and opTimes parse /proc/cpuinfo and a profiling trace", () => {
  const f = cpuFlags("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n");
  assert.ok(f.has("avx2") && f.has("avx512_vnni") && !f.has("amx_int8"));
  const ev = (name: string, op: string, dur: number) => ({
    cat: "Node",
    name: `${name}_kernel_time`,
    dur,
    args: { op_name: op },
  });
  const { ops, subgraph } = opTimes([
    ev("n_MatMul_1", "MatMul", 10),
    ev("n_MatMul_2", "MatMul", 5),
    ev("scan0_n_Exp_3", "Exp", 2),
    ev("n_Scan_4", "Scan", 7),
    { cat: "Session", name: "model_run", dur: 100 },
  ]);
  assert.deepEqual(ops, [
    { op: "MatMul", us: 15, calls: 2 },
    { op: "Scan", us: 7, calls: 1 },
  ]);
  assert.deepEqual(subgraph, [{ op: "Exp", us: 2, calls: 1 }]);
});

Deno.test("int8Head: the same logits as float graphs of the dequantized table", async () => {
  const { vocab_size: v, hidden_size: d } = config;
  const deq = new OverriddenWeights(ckpt.store);
  deq.map("backbone.embeddings.weight", (w) => {
    const { codes, scales } = quantizeBlocks(w, v, d);
    return Float32Array.from(codes, (c, i) => (c - 128) * scales[Math.floor(i / 32)]);
  });
  const [rp, rd] = await run(buildPrefill(config, deq, f32), buildDecode(config, deq, f32));
  const p = buildPrefill(config, ckpt.store, f32), dg = buildDecode(config, ckpt.store, f32);
  int8Head(p, config, ckpt.store);
  int8Head(dg, config, ckpt.store);
  assert.ok(!p.initializers.has("backbone.embeddings.weight"));
  const [hp, hd] = await run(p, dg);
  assert.ok(maxDiff(rp, hp) < 1e-5 && maxDiff(rd, hd) < 1e-5);
});

Deno.test("quantizeBlocks: codes q + 128 and one scale per row and block", () => {
  const w = Float32Array.from({ length: 64 }, (_, i) => (i % 32) - 16); // two rows of 32
  const { codes, scales } = quantizeBlocks(w, 2, 32);
  assert.deepEqual([...scales], [Math.fround(16 / 127), Math.fround(16 / 127)]);
  assert.equal(codes[0], 128 - 127); // -16 -> -127
  assert.equal(codes[16], 128); // 0
});

Deno.test("quantizeBlocks: a last partial block is padded with zero codes", () => {
  const w = Float32Array.from({ length: 2 * 40 }, (_, i) => (i % 40) - 20); // two rows of 40
  const { codes, scales } = quantizeBlocks(w, 2, 40);
  assert.equal(codes.length, 2 * 2 * 32);
  assert.equal(scales.length, 4);
  assert.equal(scales[1], Math.fround(19 / 127)); // block 2 of row 0 holds 12..19
  assert.equal(codes[32 + 8], 128); // padding
  assert.equal(codes[32 + 7], 128 + 127); // 19 -> 127
});

Deno.test("quamba-nbits: MatMulNBits equals float graphs of the dequantized weights", async () => {
  // accuracy level 1 (float activations): the same values as the dequantized weights
  const t = await transformWeights(config, ckpt.store, methodSpec("quamba"));
  const plan = fixedPlan("quamba", config.num_hidden_layers);
  const deq = new OverriddenWeights(t.src);
  const r = config.time_step_rank, n = config.state_size, e = config.intermediate_size;
  const d = config.hidden_size, v = config.vocab_size;
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `backbone.layers.${i}.mixer`;
    for (
      const [name, out, inp] of [
        ["in_proj", 2 * e, d],
        ["x_proj", r + 2 * n, e],
        ["dt_proj", e, r],
        ["out_proj", d, e],
      ] as const
    ) {
      deq.map(`${p}.${name}.weight`, (w) => dequantizeBlocks(w, out, inp));
    }
  }
  // the reference reads an untied lm_head of dequantized codes (the embedding stays float)
  const headName = config.tie_word_embeddings ? "backbone.embeddings.weight" : "lm_head.weight";
  const untied = { ...t.config, tie_word_embeddings: false };
  const ref = {
    read: async (name: string) =>
      name === "lm_head.weight"
        ? dequantizeBlocks(await t.src.read(headName), v, d)
        : await deq.read(name),
  };
  const exact = qdqHooks(t.config, t.src, plan, { quantize: false });
  const float = qdqHooks(untied, ref, plan, { quantize: false });
  const lvl1 = { ...exact, ...nbitsHooks(t.config, t.src, { accuracyLevel: 1 }) };
  const lvl4 = { ...exact, ...nbitsHooks(t.config, t.src) };
  const [fp, fd] = await run(
    buildPrefill(untied, ref, f32, float),
    buildDecode(untied, ref, f32, float),
  );
  const g1 = [buildPrefill(t.config, t.src, f32, lvl1), buildDecode(t.config, t.src, f32, lvl1)];
  assert.equal(
    g1[1].nodes.filter((x) => x.opType === "MatMulNBits").length,
    4 * config.num_hidden_layers + 1,
  );
  const [p1, d1] = await run(g1[0], g1[1]);
  assert.ok(maxDiff(fp, p1) < 1e-4 && maxDiff(fd, d1) < 1e-4, `level 1: ${maxDiff(fp, p1)}`);
  // accuracy level 4 quantizes the activations per block: close, not equal
  const [p4, d4] = await run(
    buildPrefill(t.config, t.src, f32, lvl4),
    buildDecode(t.config, t.src, f32, lvl4),
  );
  const scale = Math.max(...fp.map(Math.abs));
  assert.ok(
    maxDiff(fp, p4) / scale < 0.05 && maxDiff(fd, d4) / scale < 0.05,
    `level 4: ${maxDiff(fp, p4) / scale}`,
  );
  assert.ok(maxDiff(fp, p4) > 0, "level 4 quantizes the activations");
});

Deno.test("benchGraphs for GPU EPs: parallel scan, prefill in pieces, the same logits", async () => {
  const cpu = await benchGraphs(config, ckpt.store, "fp32");
  const gpu = await benchGraphs(config, ckpt.store, "fp32", { ep: "webgpu" });
  assert.ok(!gpu.prefill.nodes.some((x) => x.opType === "Scan"));
  const ids = Array.from({ length: 300 }, (_, i) => (i * 7 + 3) % config.vocab_size);
  const [cp, cd] = await run(cpu.prefill, cpu.decode, ids);
  // opened on the CPU EP with the GPU graphs' limit: 300 tokens go as 256 + 44
  const dir = await Deno.makeTempDir({ prefix: "quamba-bench-test-" });
  try {
    await writeModelFolder(join(dir, "m"), {
      "prefill.onnx": gpu.prefill,
      "decode.onnx": gpu.decode,
    });
    const piecewise = await openBenchModel(
      join(dir, "m"),
      { config, source: "tiny", method: "t" },
      "cpu",
      { maxPrefill: PARALLEL_SCAN_MAX },
    );
    const p = await piecewise.prefill([ids]);
    assert.equal(p.logits.length, config.vocab_size, "the last position's logits only");
    assert.ok(maxDiff(cp, p.logits) < 1e-4, `prefill ${maxDiff(cp, p.logits)}`);
    const d = await piecewise.decode([3], p.state);
    assert.ok(maxDiff(cd, d.logits) < 1e-4, `decode ${maxDiff(cd, d.logits)}`);
    await piecewise.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // float16 compute: the lm_head's Cast does not hide it from lastLogitsOnly
  const { nodes } = (await benchGraphs(config, ckpt.store, "fp16", { ep: "webgpu" })).prefill;
  const producer = (v: string) => nodes.find((x) => x.output!.includes(v))!;
  const out = producer("logits");
  const cast = out.opType === "Identity" ? producer(out.input![0]) : out;
  assert.equal(cast.opType, "Cast");
  const head = producer(cast.input![0]);
  assert.equal(head.opType, "MatMul");
  assert.equal(producer(head.input![0]).opType, "Slice");
});

Deno.test("readBenchRows: bench.json and rows.jsonl read back; bad input named by file and line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quamba-rows-" });
  try {
    const rows = await readBenchRows(join(H200_RESULTS, "cpu16_370m_790m.json"));
    assert.deepEqual(rows.map((r) => `${r.model} ${r.method}`).slice(0, 2), [
      "mamba-370m fp32",
      "mamba-370m quamba",
    ]);
    const jsonl = join(dir, "rows.jsonl");
    await Deno.writeTextFile(jsonl, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    assert.deepEqual(await readBenchRows(jsonl), rows);
    await Deno.writeTextFile(jsonl, JSON.stringify(rows[0]) + "\n{oops\n");
    await assert.rejects(() => readBenchRows(jsonl), new RegExp(`rows.jsonl:2: not JSON`));
    await Deno.writeTextFile(jsonl, `{"model": 3}\n`);
    await assert.rejects(() => readBenchRows(jsonl), /rows.jsonl:1: not a benchmark row/);
    const bad = join(dir, "bench.json");
    await Deno.writeTextFile(bad, `{"settings": {}}`);
    await assert.rejects(() => readBenchRows(bad), /bench.json: no "rows"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stepKernels: kernel events per run, by provider, and what left the EP", () => {
  const ev = (op: string, provider: string) => ({
    cat: "Node",
    name: `n_${op}_kernel_time`,
    args: { op_name: op, provider },
  });
  const k = stepKernels(
    [
      ev("MatMul", "WebGpuExecutionProvider"),
      ev("Add", "WebGpuExecutionProvider"),
      ev("Range", "CPUExecutionProvider"),
      ev("MatMul", "WebGpuExecutionProvider"),
      ev("Add", "WebGpuExecutionProvider"),
      ev("Range", "CPUExecutionProvider"),
      { cat: "Session", name: "model_run" },
    ],
    2,
    "webgpu",
  );
  assert.equal(k.perStep, 3);
  assert.deepEqual(k.byProvider, { WebGpuExecutionProvider: 2, CPUExecutionProvider: 1 });
  assert.deepEqual(k.offload, { Range: 1 });
});

Deno.test("epOverhead: a fixed cost per run and a cost per kernel on the CPU EP", async () => {
  const o = await epOverhead("cpu", { chain: 100, runs: 10 });
  assert.ok(o.runMs > 0 && o.runMs < 50, `run ${o.runMs} ms`);
  assert.ok(Number.isFinite(o.kernelUs) && o.kernelUs > 0, `kernel ${o.kernelUs} µs`);
});

Deno.test("benchGraphs: last-position logits and folded parameters change no output", async () => {
  for (const method of ["fp32", "quamba", "w8a8"]) {
    const all = await benchGraphs(config, ckpt.store, method, {
      lastLogits: false,
      foldParams: false,
    });
    const opt = await benchGraphs(config, ckpt.store, method);
    const [ap, ad] = await run(all.prefill, all.decode);
    const [op, od] = await run(opt.prefill, opt.decode);
    const v = config.vocab_size;
    assert.equal(op.length, v, `${method}: one row of logits`);
    assert.equal(maxDiff(ap.subarray(ap.length - v), op), 0, `${method} prefill`);
    assert.equal(maxDiff(ad, od), 0, `${method} decode`);
    if (method !== "fp32") {
      const dq = (g: Graph) => g.nodes.filter((n) => n.opType === "DequantizeLinear").length;
      assert.ok(dq(opt.decode) < dq(all.decode), `${method}: fewer DequantizeLinear`);
    }
  }
});
