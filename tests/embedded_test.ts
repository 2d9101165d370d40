/**
 * The embedded model and the small random checkpoints against transformers' MambaForCausalLM
 * (reference outputs computed on the GPU machine by scripts/make_references.py, committed in
 * tests/fixtures/). Relative error is max|ours - ref| / max|ref| over a sequence's logits.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { asMambaConfig } from "../lib/arch/mamba/config.ts";
import {
  argmax,
  buildGraphs,
  graphOptions,
  loadModel,
  maxPrefillOf,
  OnnxModel,
} from "../lib/model.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { ReferenceMamba } from "../lib/arch/mamba/reference.ts";
import { SafetensorsStore } from "../lib/safetensors.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";
import { assertClose } from "./helpers/assert.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { meanNll } from "./helpers/nll.ts";
import { neoxTokenizerDir } from "./helpers/shared.ts";
import { writeSeededCheckpoint } from "./helpers/seeded.ts";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
const ref = JSON.parse(await Deno.readTextFile(join(FIX, "embedded_reference.json")));
const refTensors = await SafetensorsStore.openFile(join(FIX, "embedded_reference.safetensors"));
const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });

/** Ours [e, k-1] against transformers' conv state [e, k] (its last k-1 columns). */
function convTail(hf: Float32Array, e: number, k: number): Float32Array {
  const out = new Float32Array(e * (k - 1));
  for (let c = 0; c < e; c++) out.set(hf.subarray(c * k + 1, (c + 1) * k), c * (k - 1));
  return out;
}

Deno.test("embedded fp32: logits of every position within 1e-4 of transformers", async () => {
  const model = await loadModel(EMBEDDED_MODEL, { cacheDir, ep: TEST_EP });
  for (const [k, seq] of (ref.sequences as { ids: number[] }[]).entries()) {
    assertClose(
      await model.logits(seq.ids),
      await refTensors.read(`logits.${k}`),
      1e-4,
      `sequence ${k}`,
    );
  }
  await model.close();
});

Deno.test("embedded fp32: conv and SSM states after a sequence match transformers'", async () => {
  const model = await loadModel(EMBEDDED_MODEL, { cacheDir, ep: TEST_EP });
  const { intermediate_size: e, conv_kernel: k } = asMambaConfig(model.config);
  const { state } = await model.prefill([ref.sequences[2].ids]);
  for (let i = 0; i < model.config.num_hidden_layers; i++) {
    const conv = (await state.conv[i].getData()) as Float32Array;
    assertClose(conv, convTail(await refTensors.read(`conv.${i}.seq2`), e, k), 1e-5, `conv ${i}`);
    const ssm = (await state.ssm[i].getData()) as Float32Array;
    assertClose(ssm, await refTensors.read(`ssm.${i}.seq2`), 1e-4, `ssm ${i}`);
  }
  await model.close();
});

Deno.test("embedded fp32: greedy continuations of 32 tokens are identical", async () => {
  const model = await loadModel(EMBEDDED_MODEL, { cacheDir, ep: TEST_EP });
  for (const g of ref.greedy) {
    assert.deepEqual(model.tokenizer.encode(g.prompt), g.prompt_ids, `prompt ids of ${g.prompt}`);
    const out = await model.generate(g.prompt_ids, { maxNewTokens: 32 });
    assert.deepEqual(out, g.continuation_ids, `continuation of ${JSON.stringify(g.prompt)}`);
    assert.equal(model.tokenizer.decode(out), g.continuation);
  }
  await model.close();
});

Deno.test("deviceStates: states stay on the GPU, generation and states unchanged", async () => {
  if (TEST_EP === "cpu") {
    await assert.rejects(
      loadModel(EMBEDDED_MODEL, { cacheDir, deviceStates: true }),
      /needs a GPU execution provider/,
    );
    return;
  }
  const model = await loadModel(EMBEDDED_MODEL, { cacheDir, ep: TEST_EP, deviceStates: true });
  for (const g of ref.greedy) {
    assert.deepEqual(await model.generate(g.prompt_ids, { maxNewTokens: 32 }), g.continuation_ids);
  }
  // the states on the GPU carry a sequence on as the host's do: prefill in two pieces
  const ids: number[] = ref.sequences[2].ids, half = Math.floor(ids.length / 2);
  const first = await model.prefill([ids.slice(0, half)]);
  assert.equal(first.state.ssm[0].location, "gpu-buffer");
  const rest = await model.prefill([ids.slice(half)], first.state);
  const whole = await refTensors.read(`logits.2`);
  assertClose(rest.logits, whole.subarray(half * model.config.vocab_size), 1e-4, "second piece");
  model.disposeState(first.state);
  model.disposeState(rest.state);
  await model.close();
});

Deno.test("embedded fp32: held-out mean NLL within 1e-4 of transformers'", async () => {
  const model = await loadModel(EMBEDDED_MODEL, { cacheDir, ep: TEST_EP });
  const ids: number[] = ref.heldout.ids;
  assert.deepEqual(model.tokenizer.encode(ref.heldout.text).slice(0, ids.length), ids);
  const logits = await model.logits(ids);
  const nll = meanNll(logits, ids, model.config.vocab_size);
  assert.ok(Math.abs(nll - ref.heldout.mean_nll) < 1e-4, `NLL ${nll} vs ${ref.heldout.mean_nll}`);
  assert.ok(nll < 4.5, `the embedded model should have learned English (NLL ${nll})`);
  await model.close();
});

Deno.test("embedded: the TypeScript reference agrees with transformers too", async () => {
  const r = await ReferenceMamba.fromCheckpoint(await openCheckpoint(EMBEDDED_MODEL));
  assertClose(
    r.forward(ref.sequences[1].ids).logits,
    await refTensors.read("logits.1"),
    1e-5,
    "reference",
  );
});

Deno.test("tokenizers: ids equal the Rust tokenizers' for the embedded and GPT-NeoX tokenizers", async () => {
  const own = await loadTokenizer(EMBEDDED_MODEL);
  for (const c of ref.tokenizer_cases) {
    assert.deepEqual(own.encode(c.text), c.ids, JSON.stringify(c.text));
    assert.equal(own.decode(c.ids), c.text);
  }
  const neoxDir = neoxTokenizerDir();
  const neox = await loadTokenizer(neoxDir);
  for (const c of ref.neox_tokenizer_cases) {
    assert.deepEqual(neox.encode(c.text), c.ids, JSON.stringify(c.text.slice(0, 40)));
    assert.equal(neox.decode(c.ids), c.text);
  }
  assert.equal(neox.eosId, 0);
});

// Seeded random checkpoints (tests/helpers/seeded.ts makes the weights; transformers' outputs
// for the same weights are in tests/fixtures/seeded/, by scripts/make_seeded_references.py)
const seeded = JSON.parse(await Deno.readTextFile(join(FIX, "seeded", "mamba_seeded.json")));
const seededRefs = await SafetensorsStore.openFile(join(FIX, "seeded", "mamba_seeded.safetensors"));

for (const [name, v] of Object.entries(seeded.checkpoints) as [string, SeededMamba][]) {
  Deno.test(`seeded ${name}: logits, states and greedy match transformers`, async () => {
    const dir = await writeSeededCheckpoint(
      await Deno.makeTempDir({ prefix: `quamba-${name}-` }),
      v.config,
      v.specs,
      v.seed,
      { dtype: v.dtype, shardBytes: v.shard ?? undefined },
    );
    if (v.shard) assert.ok((await Deno.stat(join(dir, "model.safetensors.index.json"))).isFile);
    const model = await loadModel(dir, { cacheDir, ep: TEST_EP });
    const { intermediate_size: e, conv_kernel: k } = asMambaConfig(model.config);
    const { logits, state } = await model.prefill([v.ids]);
    assertClose(logits, await seededRefs.read(`${name}.logits`), 1e-4, "logits");
    for (let i = 0; i < model.config.num_hidden_layers; i++) {
      assertClose(
        (await state.conv[i].getData()) as Float32Array,
        convTail(await seededRefs.read(`${name}.conv.${i}`), e, k),
        1e-5,
        `conv ${i}`,
      );
      assertClose(
        (await state.ssm[i].getData()) as Float32Array,
        await seededRefs.read(`${name}.ssm.${i}`),
        1e-4,
        `ssm ${i}`,
      );
    }
    assert.deepEqual(
      await model.generate(v.greedy_prompt, { maxNewTokens: v.greedy.length }),
      v.greedy,
    );
    await model.close();
  });
}

interface SeededMamba {
  seed: number;
  dtype: "F32" | "BF16";
  shard: number | null;
  config: Record<string, unknown>;
  specs: [string, number[]][];
  ids: number[];
  greedy_prompt: number[];
  greedy: number[];
}

/** The GPU EPs' fp16 graphs (projections computed in float16), opened on the test EP. */
async function gpuFp16Model(): Promise<OnnxModel> {
  const ckpt = await openCheckpoint(EMBEDDED_MODEL);
  const opt = graphOptions("fp16", "webgpu");
  assert.equal(opt.compute, "float16");
  const dir = join(cacheDir, "fp16-compute");
  await buildGraphs(dir, ckpt.config, ckpt.store, opt);
  const tokenizer = await loadTokenizer(EMBEDDED_MODEL);
  const meta = { config: ckpt.config, tokenizer, source: "embedded", method: "fp16" };
  return await OnnxModel.open(dir, { ...meta, maxPrefill: maxPrefillOf(opt) }, TEST_EP);
}

for (
  const [what, open] of [
    // On the CPU EP fp16 means float16 weights computed in float32 (this checkpoint is stored in
    // F16, so nothing is lost); on GPU EPs the big projections run in float16, the rest in float32.
    ["fp16", () => loadModel(EMBEDDED_MODEL, { cacheDir, ep: TEST_EP, dtype: "fp16" })],
    ["fp16 computed in float16 (the GPU EPs' graphs)", gpuFp16Model],
  ] as const
) {
  Deno.test(`embedded ${what}: logits within 3e-2, the same top token at 95% of positions`, async () => {
    const model = await open();
    const v = model.config.vocab_size;
    const ids: number[] = ref.sequences[2].ids;
    const got = await model.logits(ids);
    const want = await refTensors.read("logits.2");
    assertClose(got, want, 3e-2, "fp16 logits");
    let same = 0;
    for (let t = 0; t < ids.length; t++) {
      if (argmax(got, t * v, v) === argmax(want, t * v, v)) same++;
    }
    assert.ok(same >= 0.95 * ids.length, `top-1 agreement ${same}/${ids.length}`);
    await model.close();
  });
}
