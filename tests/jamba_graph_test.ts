/**
 * Jamba's ONNX graphs against the float64 TypeScript reference (lib/arch/jamba/reference.ts) on
 * small random checkpoints: every position's logits, the Mamba states and attention caches,
 * prefill-then-decode and chunked prefill against one prefill, batching, the parallel scan and
 * float16.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { JambaConfig } from "../lib/arch/jamba/config.ts";
import { jambaDims } from "../lib/arch/jamba/config.ts";
import { type JambaReferenceState, ReferenceJamba } from "../lib/arch/jamba/reference.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import {
  argmax,
  buildGraphs,
  graphOptions,
  maxPrefillOf,
  modelFromCheckpoint,
  type ModelState,
  OnnxModel,
} from "../lib/model.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";
import { assertClose } from "./helpers/assert.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { tinyJamba } from "./helpers/jamba.ts";
import { rng } from "./helpers/tiny.ts";

const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });

const CONFIGS: Record<string, Record<string, unknown>> = {
  // GQA (4 heads, 2 kv), attention at 1 and 3, top-2 of 3 experts at 0 and 2, conv 3
  gqa: {},
  // MQA, Mamba projection biases, no conv bias, conv 2, expand 3, top-1 of 4 experts, tied
  mqa_bias_tied: {
    num_key_value_heads: 1,
    mamba_proj_bias: true,
    mamba_conv_bias: false,
    mamba_d_conv: 2,
    mamba_expand: 3,
    num_experts: 4,
    num_experts_per_tok: 1,
    expert_layer_period: 3,
    expert_layer_offset: 1,
    tie_word_embeddings: true,
    rms_norm_eps: 1e-3,
  },
  // attention first, multi-head (no grouping), experts in every layer, dt_rank 3, 5 layers
  attn_first_allmoe: {
    num_hidden_layers: 5,
    num_key_value_heads: 4,
    attn_layer_period: 3,
    attn_layer_offset: 0,
    expert_layer_period: 1,
    num_experts: 2,
    mamba_dt_rank: 3,
    mamba_d_conv: 4,
  },
};

async function setup(
  overrides: Record<string, unknown>,
  options: { dtype?: "fp32" | "fp16"; scan?: "sequential" | "parallel" } = {},
) {
  const { dir } = await tinyJamba(overrides, 7);
  const ckpt = await openCheckpoint(dir);
  const model = await modelFromCheckpoint(ckpt, { cacheDir, ep: TEST_EP, ...options });
  const ref = await ReferenceJamba.fromSource(ckpt.config as JambaConfig, ckpt.src);
  return { model, ref, cfg: ckpt.config as JambaConfig, dir };
}

function randomIds(n: number, v: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor((r() + 1) / 2 * v));
}

const data = async (t: { getData(): Promise<unknown> }) => (await t.getData()) as Float32Array;

/** The graphs' state (batch 1) against the reference's: conv, SSM, keys and values. */
async function assertStateClose(
  cfg: JambaConfig,
  s: ModelState,
  want: JambaReferenceState,
  tol: number,
  what: string,
): Promise<void> {
  const { G, hd } = jambaDims(cfg);
  for (const [name, t] of Object.entries(s.tensors)) {
    const [kind, layer] = name.split(".") as [string, string];
    const i = Number(layer);
    const got = await data(t);
    if (kind === "conv") assertClose(got, want.conv[i]!, tol, `${what}: ${name}`);
    else if (kind === "ssm") assertClose(got, want.ssm[i]!, tol, `${what}: ${name}`);
    else {
      // ours [1, G, t, hd] against the reference's per-token [G hd] vectors
      const rows = kind === "key" ? want.keys[i]! : want.values[i]!;
      assert.deepEqual(t.dims, [1, G, rows.length, hd], `${what}: ${name} dims`);
      const w = new Float32Array(got.length);
      rows.forEach((row, tok) => {
        for (let g = 0; g < G; g++) {
          for (let c = 0; c < hd; c++) w[(g * rows.length + tok) * hd + c] = row[g * hd + c];
        }
      });
      assertClose(got, w, tol, `${what}: ${name}`);
    }
  }
}

for (const [name, overrides] of Object.entries(CONFIGS)) {
  Deno.test(`jamba graphs (${name}): prefill logits, states and caches equal the reference`, async () => {
    const { model, ref, cfg } = await setup(overrides);
    const v = model.config.vocab_size;
    for (const len of [1, 2, 13]) {
      const ids = randomIds(len, v, len);
      const want = ref.forward(ids);
      const got = await model.prefill([ids]);
      assertClose(got.logits, want.logits, 2e-5, `logits, length ${len}`);
      assert.equal(got.state.seen, len);
      await assertStateClose(cfg, got.state, want.state, 2e-5, `length ${len}`);
    }
    await model.close();
  });

  Deno.test(`jamba graphs (${name}): decode steps and chunked prefill equal one prefill; greedy equals the reference's`, async () => {
    const { model, ref } = await setup(overrides);
    const v = model.config.vocab_size;
    const ids = randomIds(12, v, 99);
    const whole = await model.prefill([ids]);
    const a = await model.prefill([ids.slice(0, 5)]);
    const b = await model.prefill([ids.slice(5)], a.state);
    assertClose(b.logits, whole.logits.subarray(5 * v), 1e-5, "chunked prefill");
    let state = a.state;
    for (let t = 5; t < 12; t++) {
      const step = await model.decode([ids[t]], state);
      assertClose(step.logits, whole.logits.subarray(t * v, (t + 1) * v), 1e-5, `decode step ${t}`);
      state = step.state;
    }
    assert.equal(state.seen, 12);
    for (const [n, t] of Object.entries(state.tensors)) {
      assertClose(await data(t), await data(whole.state.tensors[n]), 1e-5, `state ${n}`);
    }
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

Deno.test("jamba graphs: a batch of sequences equals each sequence alone, in prefill and decode", async () => {
  const { model } = await setup({});
  const v = model.config.vocab_size;
  const seqs = [randomIds(9, v, 1), randomIds(9, v, 2), randomIds(9, v, 3)];
  const batch = await model.prefill(seqs);
  for (let s = 0; s < 3; s++) {
    const one = await model.logits(seqs[s]);
    assertClose(batch.logits.subarray(s * 9 * v, (s + 1) * 9 * v), one, 1e-5, `sequence ${s}`);
  }
  // a second piece from the batch's state (attention over 9 cached tokens plus 4 new ones)
  const more = [randomIds(4, v, 4), randomIds(4, v, 5), randomIds(4, v, 6)];
  const next = await model.prefill(more, batch.state);
  const step = await model.decode([1, 2, 3], next.state);
  for (let s = 0; s < 3; s++) {
    const alone = await model.prefill([[...seqs[s], ...more[s], s + 1]]);
    assertClose(
      next.logits.subarray(s * 4 * v, (s + 1) * 4 * v),
      alone.logits.subarray(9 * v, 13 * v),
      1e-5,
      `second piece ${s}`,
    );
    assertClose(
      step.logits.subarray(s * v, (s + 1) * v),
      alone.logits.subarray(13 * v),
      1e-5,
      `decode ${s}`,
    );
  }
  await assert.rejects(() => model.prefill([seqs[0]], batch.state), /3 sequences|batch of 3/);
  await model.close();
});

Deno.test("jamba graphs: the parallel scan (GPU EPs) equals the reference, and 600 tokens in pieces equal the sequential scan", async () => {
  const { model: par, ref } = await setup(CONFIGS.mqa_bias_tied, { scan: "parallel" });
  const { model: seq } = await setup(CONFIGS.mqa_bias_tied, { scan: "sequential" });
  const v = par.config.vocab_size;
  const ids = randomIds(40, v, 8);
  assertClose((await par.prefill([ids])).logits, ref.forward(ids).logits, 2e-5, "parallel logits");
  const long = randomIds(600, v, 9);
  assert.equal(par.maxPrefill, 256);
  const lp = await par.prefill([long, long.slice().reverse()]);
  const ls = await seq.prefill([long, long.slice().reverse()]);
  assertClose(lp.logits, ls.logits, 1e-4, "600 tokens in pieces");
  assert.equal(lp.state.seen, 600);
  await par.close();
  await seq.close();
});

Deno.test("jamba graphs: fp16 weights within 1e-2 of the reference; float16 compute (GPU graphs) within 3e-2", async () => {
  const { model, ref, dir } = await setup({}, { dtype: "fp16" });
  const ids = randomIds(16, model.config.vocab_size, 5);
  const want = ref.forward(ids).logits;
  assertClose(await model.logits(ids), want, 1e-2, "fp16 weights");
  await model.close();
  const ckpt = await openCheckpoint(dir);
  const opt = graphOptions("fp16", "webgpu");
  const out = join(cacheDir, "jamba-fp16-compute");
  await buildGraphs(out, ckpt.config, ckpt.src, opt);
  const meta = {
    config: ckpt.config,
    tokenizer: await loadTokenizer("data/models/embedded"),
    source: dir,
    method: "fp16",
    maxPrefill: maxPrefillOf(opt),
  };
  const gpu = await OnnxModel.open(out, meta, TEST_EP);
  assertClose(await gpu.logits(ids), want, 3e-2, "float16 compute");
  await gpu.close();
});

Deno.test("jamba graphs: deviceStates keeps states and attention caches on the GPU (GPU EPs)", async () => {
  const { dir } = await tinyJamba({}, 7);
  const ckpt = await openCheckpoint(dir);
  if (TEST_EP === "cpu") {
    await assert.rejects(
      modelFromCheckpoint(ckpt, { cacheDir, deviceStates: true }),
      /needs a GPU execution provider/,
    );
    return;
  }
  const host = await modelFromCheckpoint(ckpt, { cacheDir, ep: TEST_EP });
  const dev = await modelFromCheckpoint(ckpt, { cacheDir, ep: TEST_EP, deviceStates: true });
  const v = host.config.vocab_size, ids = randomIds(20, v, 3);
  const a = await dev.prefill([ids.slice(0, 9)]);
  assert.equal(a.state.key[0].location, "gpu-buffer");
  const b = await dev.prefill([ids.slice(9)], a.state);
  const whole = await host.logits(ids);
  assertClose(b.logits, whole.subarray(9 * v), 1e-4, "second piece from GPU states");
  dev.disposeState(a.state);
  dev.disposeState(b.state);
  assert.deepEqual(
    await dev.generate(ids.slice(0, 5), { maxNewTokens: 8 }),
    await host.generate(ids.slice(0, 5), { maxNewTokens: 8 }),
  );
  await host.close();
  await dev.close();
});
