/**
 * The ONNX graphs against the plain TypeScript reference (lib/arch/mamba/reference.ts) on small random
 * checkpoints that exercise every config field that changes the math.
 */
import assert from "node:assert/strict";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { argmax, type MambaState, modelFromCheckpoint } from "../lib/model.ts";
import { ReferenceMamba } from "../lib/arch/mamba/reference.ts";
import { assertClose } from "./helpers/assert.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { rng, tinyCheckpoint } from "./helpers/tiny.ts";

const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });

const CONFIGS: Record<string, Record<string, unknown>> = {
  default: {},
  untied_biased: {
    tie_word_embeddings: false,
    use_bias: true,
    use_conv_bias: false,
    conv_kernel: 3,
    time_step_rank: 3,
    expand: 3,
    layer_norm_epsilon: 1e-3,
    state_size: 6,
    residual_in_fp32: false,
  },
  kernel2: { conv_kernel: 2, num_hidden_layers: 3, hidden_size: 24, vocab_size: 40 },
};

async function setup(overrides: Record<string, unknown>, dtype: "fp32" | "fp16" = "fp32") {
  const { dir } = await tinyCheckpoint(overrides, 7);
  const ckpt = await openCheckpoint(dir);
  const model = await modelFromCheckpoint(ckpt, { cacheDir, dtype, ep: TEST_EP });
  return { model, ref: await ReferenceMamba.fromCheckpoint(ckpt) };
}

function randomIds(n: number, v: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor((r() + 1) / 2 * v));
}

async function stateArrays(s: MambaState) {
  return {
    conv: await Promise.all(s.conv.map(async (t) => (await t.getData()) as Float32Array)),
    ssm: await Promise.all(s.ssm.map(async (t) => (await t.getData()) as Float32Array)),
  };
}

for (const [name, overrides] of Object.entries(CONFIGS)) {
  Deno.test(`graphs (${name}): prefill logits and states equal the reference`, async () => {
    const { model, ref } = await setup(overrides);
    const v = model.config.vocab_size;
    for (const len of [1, 2, 13]) {
      const ids = randomIds(len, v, len);
      const want = ref.forward(ids);
      const got = await model.prefill([ids]);
      assertClose(got.logits, want.logits, 2e-5, `logits, length ${len}`);
      const s = await stateArrays(got.state);
      for (let i = 0; i < model.config.num_hidden_layers; i++) {
        assertClose(s.conv[i], want.state.conv[i], 1e-5, `conv state ${i}, length ${len}`);
        assertClose(s.ssm[i], want.state.ssm[i], 2e-5, `ssm state ${i}, length ${len}`);
      }
    }
    await model.close();
  });

  Deno.test(`graphs (${name}): decode steps and chunked prefill equal one prefill`, async () => {
    const { model, ref } = await setup(overrides);
    const v = model.config.vocab_size;
    const ids = randomIds(12, v, 99);
    const whole = await model.prefill([ids]);
    // prefill 5, then 7 more through a second prefill from the state
    const a = await model.prefill([ids.slice(0, 5)]);
    const b = await model.prefill([ids.slice(5)], a.state);
    assertClose(b.logits, whole.logits.subarray(5 * v), 1e-5, "chunked prefill");
    // prefill 5, then decode one token at a time
    let state = a.state;
    for (let t = 5; t < 12; t++) {
      const step = await model.decode([ids[t]], state);
      assertClose(step.logits, whole.logits.subarray(t * v, (t + 1) * v), 1e-5, `decode step ${t}`);
      state = step.state;
    }
    const s = await stateArrays(state), w = await stateArrays(whole.state);
    s.ssm.forEach((x, i) => assertClose(x, w.ssm[i], 1e-5, `ssm state ${i}`));
    s.conv.forEach((x, i) => assertClose(x, w.conv[i], 1e-6, `conv state ${i}`));
    // greedy generation equals the reference's
    const gen = await model.generate(ids.slice(0, 4), { maxNewTokens: 6 });
    const rs = ref.initialState();
    let logits = ref.forward(ids.slice(0, 4), rs).logits.subarray(3 * v);
    const want: number[] = [];
    for (let t = 0; t < 6; t++) {
      want.push(argmax(logits, 0, v));
      logits = ref.step(want[t], rs);
    }
    assert.deepEqual(gen, want);
    await model.close();
  });
}

Deno.test("graphs: a batch of sequences equals each sequence alone", async () => {
  const { model } = await setup({});
  const v = model.config.vocab_size;
  const seqs = [randomIds(9, v, 1), randomIds(9, v, 2), randomIds(9, v, 3)];
  const batch = await model.prefill(seqs);
  for (let s = 0; s < 3; s++) {
    const one = await model.logits(seqs[s]);
    assertClose(batch.logits.subarray(s * 9 * v, (s + 1) * 9 * v), one, 1e-6, `sequence ${s}`);
  }
  const step = await model.decode([1, 2, 3], batch.state);
  for (let s = 0; s < 3; s++) {
    const alone = await model.prefill([[...seqs[s], s + 1]]);
    assertClose(
      step.logits.subarray(s * v, (s + 1) * v),
      alone.logits.subarray(9 * v),
      1e-5,
      `decode ${s}`,
    );
  }
  await model.close();
});

Deno.test("graphs: fp16 weights stay within 1e-2 of the float64 reference", async () => {
  // fp16 on the CPU EP: weights stored as float16, arithmetic in float32. The bound covers the
  // weights' rounding (2^-11 relative) carried through two layers.
  const { model, ref } = await setup({}, "fp16");
  const ids = randomIds(16, model.config.vocab_size, 5);
  assertClose(await model.logits(ids), ref.forward(ids).logits, 1e-2, "fp16 logits");
  await model.close();
});

Deno.test("graphs: bad token ids and empty input get clear errors", async () => {
  const { model } = await setup({});
  await assert.rejects(
    () => model.logits([1, 64]),
    /token id 64 is out of range for a vocabulary of 64/,
  );
  await assert.rejects(() => model.logits([]), /at least one token/);
  await assert.rejects(() => model.prefill([[1, 2], [3]]), /equal length/);
  await model.close();
});

Deno.test("graphs: the parallel scan (for GPU EPs) equals the reference, from any state, past its length", async () => {
  for (const overrides of [CONFIGS.default, CONFIGS.untied_biased]) {
    const { dir } = await tinyCheckpoint(overrides, 7);
    const ckpt = await openCheckpoint(dir);
    const par = await modelFromCheckpoint(ckpt, { cacheDir, ep: TEST_EP, scan: "parallel" });
    const seq = await modelFromCheckpoint(ckpt, { cacheDir, ep: TEST_EP, scan: "sequential" });
    const ref = await ReferenceMamba.fromCheckpoint(ckpt);
    const v = par.config.vocab_size;
    for (const len of [1, 2, 13, 64]) {
      const ids = randomIds(len, v, len + 100);
      const want = ref.forward(ids);
      const got = await par.prefill([ids]);
      assertClose(got.logits, want.logits, 2e-5, `parallel logits, length ${len}`);
      const s = await stateArrays(got.state);
      s.ssm.forEach((x, i) =>
        assertClose(x, want.state.ssm[i], 2e-5, `parallel ssm ${i}, length ${len}`)
      );
    }
    // from a non-zero state: prefill 7 tokens, then 9 more
    const ids = randomIds(16, v, 5);
    const a = await par.prefill([ids.slice(0, 7)]);
    const b = await par.prefill([ids.slice(7)], a.state);
    assertClose(b.logits, ref.forward(ids).logits.subarray(7 * v), 2e-5, "parallel from a state");
    // longer than one run of the graph (256 tokens): in pieces, equal to the sequential scan
    const long = randomIds(2100, v, 9);
    assert.equal(par.maxPrefill, 256);
    const lp = await par.prefill([long, long.slice().reverse()]);
    const ls = await seq.prefill([long, long.slice().reverse()]);
    assertClose(lp.logits, ls.logits, 1e-4, "2100 tokens in pieces");
    await par.close();
    await seq.close();
  }
});
