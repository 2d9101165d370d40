/**
 * Mamba-2's ONNX graphs against the float64 TypeScript reference (lib/arch/mamba2/reference.ts)
 * on small random checkpoints with odd shapes: every position's logits, the conv and SSM states,
 * prefill-then-decode and prefill in pieces against one prefill, the chunked SSD prefill (several
 * chunks, a padded tail, from a non-zero state), n_groups > 1 with both gated norms, dt's clamp.
 */
import assert from "node:assert/strict";
import type { Mamba2Config } from "../lib/arch/mamba2/config.ts";
import { type Mamba2ReferenceState, ReferenceMamba2 } from "../lib/arch/mamba2/reference.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { modelFromCheckpoint, type ModelState } from "../lib/model.ts";
import { assertClose, relErr } from "./helpers/assert.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { tinyMamba2 } from "./helpers/mamba2.ts";
import { rng } from "./helpers/tiny.ts";

const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });

const CONFIGS: Record<string, Record<string, unknown>> = {
  // 2 groups of 3 heads of 5, state 4, conv 3, chunks of 4, dt clamped to [0.05, 0.8], tied
  groups: {},
  // one group, 3 heads of 7 (d 14, expand 1.5), projection biases, no conv bias, conv 4,
  // transformers' gated norm (over all of d_inner), dt unclamped, untied, chunks of 5
  bias_untied: {
    hidden_size: 14,
    expand: 1.5,
    num_heads: 3,
    head_dim: 7,
    n_groups: 1,
    conv_kernel: 4,
    use_bias: true,
    use_conv_bias: false,
    tie_word_embeddings: false,
    time_step_limit: [0, "Infinity"],
    chunk_size: 5,
  },
  // a group per head, head_dim 3, state 6, conv 2, norm over all of d_inner, 2 layers
  group_per_head: {
    hidden_size: 6,
    num_heads: 4,
    head_dim: 3,
    n_groups: 4,
    norm_groups: 1,
    state_size: 6,
    conv_kernel: 2,
    num_hidden_layers: 2,
    chunk_size: 3,
  },
};

async function setup(
  overrides: Record<string, unknown>,
  scan?: "sequential" | "parallel" | "fused",
) {
  const { dir } = await tinyMamba2(overrides, 5);
  const ckpt = await openCheckpoint(dir);
  const model = await modelFromCheckpoint(ckpt, { cacheDir, ep: TEST_EP, scan });
  const cfg = ckpt.config as Mamba2Config;
  return { model, ref: await ReferenceMamba2.fromSource(cfg, ckpt.src), cfg, ckpt };
}

function randomIds(n: number, v: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor((r() + 1) / 2 * v));
}

const data = async (t: { getData(): Promise<unknown> }) => (await t.getData()) as Float32Array;

async function assertStateClose(
  s: ModelState,
  want: Mamba2ReferenceState,
  tol: number,
  what: string,
) {
  for (const [name, t] of Object.entries(s.tensors)) {
    const [kind, layer] = name.split(".");
    const w = kind === "conv" ? want.conv[Number(layer)] : want.ssm[Number(layer)];
    assertClose(await data(t), w!, tol, `${what}: ${name}`);
  }
}

for (const [name, overrides] of Object.entries(CONFIGS)) {
  for (const scan of ["sequential", "parallel", "fused"] as const) {
    Deno.test(`mamba2 graphs (${name}, ${scan}): prefill logits and states equal the reference`, async () => {
      const { model, ref } = await setup(overrides, scan);
      const v = model.config.vocab_size;
      for (const len of [1, 2, 13]) {
        const ids = randomIds(len, v, len);
        const want = ref.forward(ids);
        const got = await model.prefill([ids]);
        assertClose(got.logits, want.logits, 2e-5, `logits, length ${len}`);
        await assertStateClose(got.state, want.state, 2e-5, `length ${len}`);
      }
      // from a non-zero state: 7 tokens, then 11 more (several chunks and a padded tail)
      const ids = randomIds(18, v, 77);
      const a = await model.prefill([ids.slice(0, 7)]);
      const b = await model.prefill([ids.slice(7)], a.state);
      const want = ref.forward(ids);
      assertClose(b.logits, want.logits.subarray(7 * v), 2e-5, "second piece");
      await assertStateClose(b.state, want.state, 2e-5, "after two pieces");
      await model.close();
    });
  }

  Deno.test(`mamba2 graphs (${name}): decode steps equal one prefill; batches equal single rows`, async () => {
    const { model } = await setup(overrides);
    await decodeChecks(model);
    // onnxruntime's fused operators in both graphs
    const fused = (await setup(overrides, "fused")).model;
    await decodeChecks(fused);
  });
}

/** Decode steps against one prefill, and a batch row against the row alone; closes the model. */
async function decodeChecks(model: Awaited<ReturnType<typeof setup>>["model"]) {
  const v = model.config.vocab_size;
  const ids = randomIds(12, v, 99);
  const whole = await model.prefill([ids]);
  let state = (await model.prefill([ids.slice(0, 5)])).state;
  for (let t = 5; t < 12; t++) {
    const step = await model.decode([ids[t]], state);
    assertClose(step.logits, whole.logits.subarray(t * v, (t + 1) * v), 1e-5, `decode ${t}`);
    state = step.state;
  }
  for (const [n, t] of Object.entries(state.tensors)) {
    assertClose(await data(t), await data(whole.state.tensors[n]), 1e-5, `state ${n}`);
  }
  const other = randomIds(12, v, 5);
  const both = await model.prefill([ids, other]);
  const one = await model.prefill([other]);
  assertClose(both.logits.subarray(12 * v), one.logits, 1e-5, "row 2 of a batch");
  await model.close();
}

Deno.test("mamba2: the two gated norms differ when n_groups > 1, and dt's clamp is applied", async () => {
  const { ckpt, cfg } = await setup({});
  const ids = randomIds(9, cfg.vocab_size, 3);
  const ours = (await ReferenceMamba2.fromSource(cfg, ckpt.src)).forward(ids).logits;
  const tf = (await ReferenceMamba2.fromSource({ ...cfg, norm_groups: 1 }, ckpt.src)).forward(ids)
    .logits;
  assert.ok(relErr(tf, ours) > 1e-2, `norm over d_inner vs per group: ${relErr(tf, ours)}`);
  const free = await ReferenceMamba2.fromSource(cfg, ckpt.src, {}, { clampDt: false });
  assert.ok(relErr(free.forward(ids).logits, ours) > 1e-3, "the clamp changes these logits");
});

Deno.test("mamba2 config: shapes that disagree are named; Python's Infinity is read", async () => {
  const { parseMamba2Config } = await import("../lib/arch/mamba2/config.ts");
  const { parsePythonJson } = await import("../lib/arch/registry.ts");
  const base = { model_type: "mamba2", hidden_size: 8, num_heads: 4, head_dim: 4, n_groups: 2 };
  assert.throws(
    () => parseMamba2Config({ ...base, head_dim: 3 }, "c.json"),
    /c\.json: num_heads × head_dim = 4 × 3 = 12 must equal d_inner = expand × hidden_size = 2 × 8 = 16/,
  );
  assert.throws(
    () => parseMamba2Config({ ...base, n_groups: 3 }, "c.json"),
    /n_groups \(3\) must divide num_heads \(4\)/,
  );
  assert.throws(
    () => parseMamba2Config({ ...base, norm_groups: 4 }, "c.json"),
    /'norm_groups' must be n_groups \(2/,
  );
  assert.throws(
    () => parseMamba2Config({ ...base, time_step_limit: [1, 0] }, "c.json"),
    /time_step_limit/,
  );
  const raw = parsePythonJson(
    '{"a": "NaN Infinity", "time_step_limit": [0.0, Infinity], "b": -Infinity}',
  );
  assert.deepEqual(raw, { a: "NaN Infinity", time_step_limit: [0, "Infinity"], b: "-Infinity" });
  const cfg = parseMamba2Config({ ...base, ...(raw as Record<string, unknown>) }, "c.json");
  assert.deepEqual(cfg.time_step_limit, [0, Infinity]);
  assert.equal(cfg.norm_groups, 2);
  assert.throws(() => parsePythonJson("{bad"), SyntaxError);
});

Deno.test("mamba2 graphs: fp16 weights stay within 1e-2 of the float64 reference", async () => {
  const { dir } = await tinyMamba2({}, 5);
  const ckpt = await openCheckpoint(dir);
  const model = await modelFromCheckpoint(ckpt, { cacheDir, ep: TEST_EP, dtype: "fp16" });
  const ref = await ReferenceMamba2.fromSource(ckpt.config as Mamba2Config, ckpt.src);
  const ids = randomIds(13, model.config.vocab_size, 4);
  const e = relErr((await model.prefill([ids])).logits, ref.forward(ids).logits);
  assert.ok(e < 1e-2 && e > 0, `fp16 vs float64: ${e}`);
  await model.close();
});
