/**
 * The quantization recipes: int8 rounding, exactness of the transforms, the QDQ graphs against
 * the TypeScript fake-quant reference, onnxruntime's int8 fusions, and save → load.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { loadCalibration } from "../lib/calibration.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { buildGraphs, loadModel, OnnxModel } from "../lib/model.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import {
  fakeQuant,
  quantizeTensor,
  quantizeValue,
  roundHalfEven,
  scaleOf,
} from "../lib/quant/int8.ts";
import { methodSpec } from "../lib/quant/methods.ts";
import { planScales } from "../lib/quant/plan.ts";
import { qdqHooks } from "../lib/quant/qdq.ts";
import { quantize, type QuantizedModel } from "../lib/quant/quantize.ts";
import { fakeQuantReference } from "../lib/quant/reference.ts";
import { transformWeights } from "../lib/quant/transform.ts";
import { createSession } from "../lib/runtime.ts";
import { collectStats } from "../lib/stats/collect.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";
import { buildDecode, buildPrefill } from "../lib/mamba_onnx.ts";
import { writeModelFolder } from "../lib/onnx/save.ts";
import { assertClose, relErr } from "./helpers/assert.ts";

const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });
const ckpt = await openCheckpoint(EMBEDDED_MODEL);
const tok = await loadTokenizer(EMBEDDED_MODEL);
const calib = await loadCalibration("data/calibration/wikitext2_valid_sample.txt", tok, {
  samples: 4,
  maxLen: 128,
});
const stats = await collectStats(ckpt, calib, {
  progress: false,
  cacheDir,
  emaPercentiles: [99.999],
});
const ids = tok.encode(
  "The Time Traveller smiled round at us. Then, still smiling faintly, and with his hands deep in his",
);

Deno.test("int8: scale amax/127, round half to even, saturation", () => {
  assert.equal(scaleOf(127), 1);
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven), [
    0,
    2,
    2,
    -0,
    -2,
    -2,
    2,
    -3,
  ]);
  assert.equal(quantizeValue(1000, 1), 127);
  assert.equal(quantizeValue(-1000, 1), -128);
  assert.equal(fakeQuant(0.3, 0.25), 0.25);
  const { q, scale } = quantizeTensor(Float32Array.from([0.5, -1, 0.25, 0]), { rows: 2, cols: 2 });
  assert.equal(scale, Math.fround(1 / 127));
  assert.deepEqual(Array.from(q), [64, 32, -127, 0]); // transposed layout
});

const opt = { weights: "float32", compute: "float32" } as const;

async function floatLogits(method: string): Promise<Float32Array> {
  const spec = methodSpec(method);
  const t = await transformWeights(ckpt.config, ckpt.store, spec, stats);
  const plan = planScales(stats, spec, method, { percentile: 99.999, smoothing: t.smoothing });
  const hooks = qdqHooks(t.config, t.src, plan, { smoothing: t.smoothing, quantize: false });
  const dir = join(cacheDir, `float-${method}`);
  await writeModelFolder(dir, {
    "prefill.onnx": buildPrefill(t.config, t.src, opt, hooks),
    "decode.onnx": buildDecode(t.config, t.src, opt, hooks),
  });
  const m = await OnnxModel.open(
    dir,
    { config: t.config, tokenizer: tok, source: "", method },
    "cpu",
  );
  const out = await m.logits(ids);
  await m.close();
  return out;
}

Deno.test("transforms: rotating (Hadamard, QuaRot) and smoothing, then undoing them, changes nothing", async () => {
  const base = await (await loadModel(EMBEDDED_MODEL, { cacheDir })).logits(ids);
  for (const method of ["quamba-hadamard", "quarot", "smoothquant"]) {
    assertClose(await floatLogits(method), base, 1e-4, `${method} float model`);
  }
});

const quantized = new Map<string, QuantizedModel>();
async function q(method: string): Promise<QuantizedModel> {
  if (!quantized.has(method)) {
    const m = await quantize(EMBEDDED_MODEL, {
      method,
      calibration: calib,
      stats,
      progress: false,
      cacheDir,
    });
    quantized.set(method, m as QuantizedModel);
  }
  return quantized.get(method)!;
}

for (const method of ["w8a8", "quamba", "smoothquant", "quarot", "dynamic"]) {
  Deno.test(`${method}: the QDQ graphs equal the TypeScript fake-quant reference`, async () => {
    const model = await q(method);
    const spec = methodSpec(method);
    const t = await transformWeights(ckpt.config, ckpt.store, spec, stats);
    const ref = await fakeQuantReference(t.config, t.src, model.plan, { smoothing: t.smoothing });
    const got = await model.logits(ids);
    const want = ref.forward(ids).logits;
    const err = relErr(got, want);
    const base = relErr(await (await loadModel(EMBEDDED_MODEL, { cacheDir })).logits(ids), want);
    console.log(
      `${method}: graph vs fake-quant reference ${err.toExponential(2)}, fp32 vs reference ${
        base.toExponential(2)
      }`,
    );
    assert.ok(err < 2e-3, `relative error ${err}`);
    assert.ok(err < base / 10, `the reference must tell the method from fp32 (${err} vs ${base})`);
    // prefill then decode steps give the same logits as one prefill
    const v = model.config.vocab_size;
    let { state } = await model.prefill([ids.slice(0, 10)]);
    for (let i = 10; i < 14; i++) {
      const step = await model.decode([ids[i]], state);
      assertClose(step.logits, got.subarray(i * v, (i + 1) * v), 1e-4, `decode step ${i}`);
      state = step.state;
    }
  });
}
