/**
 * Jamba against transformers' JambaForCausalLM in float64 (tests/fixtures/jamba_tiny, a tiny
 * trained model, by scripts/make_jamba_fixture.py; tests/fixtures/seeded/jamba_seeded.*, three
 * seeded random configs, by scripts/make_seeded_references.py). Relative error is
 * max|ours - ref| / max|ref| over a sequence's logits.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { JambaConfig } from "../lib/arch/jamba/config.ts";
import { ReferenceJamba } from "../lib/arch/jamba/reference.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { loadModel, type Model } from "../lib/model.ts";
import { SafetensorsStore, writeSafetensors } from "../lib/safetensors.ts";
import { bytesOf } from "../lib/onnx/builder.ts";
import { assertClose, relErr } from "./helpers/assert.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { meanNll } from "./helpers/nll.ts";
import { seededJambas, writeSeededJamba } from "./helpers/jamba.ts";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
const TINY = join(FIX, "jamba_tiny");
const ref = JSON.parse(await Deno.readTextFile(join(TINY, "reference.json")));
const refTensors = await SafetensorsStore.openFile(join(TINY, "reference.safetensors"));
const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });

Deno.test("jamba tiny fp32: logits within 1e-4 of transformers, greedy identical, NLL within 1e-4", async () => {
  const model = await loadModel(TINY, { cacheDir, ep: TEST_EP });
  assert.equal(model.config.model_type, "jamba");
  for (const [k, seq] of (ref.sequences as { ids: number[] }[]).entries()) {
    const got = await model.logits(seq.ids);
    assertClose(got, await refTensors.read(`logits.${k}`), 1e-4, `sequence ${k}`);
  }
  for (const g of ref.greedy) {
    assert.deepEqual(model.tokenizer.encode(g.prompt), g.prompt_ids, `prompt ids of ${g.prompt}`);
    const out = await model.generate(g.prompt_ids, { maxNewTokens: 32 });
    assert.deepEqual(out, g.continuation_ids, `continuation of ${JSON.stringify(g.prompt)}`);
    assert.equal(model.tokenizer.decode(out), g.continuation);
  }
  const ids: number[] = ref.heldout.ids;
  const nll = meanNll(await model.logits(ids), ids, model.config.vocab_size);
  assert.ok(Math.abs(nll - ref.heldout.mean_nll) < 1e-4, `NLL ${nll} vs ${ref.heldout.mean_nll}`);
  assert.ok(nll < 3, `the tiny Jamba should have learned English (NLL ${nll})`);
  await model.close();
});

Deno.test("jamba tiny: the float64 TypeScript reference agrees with transformers", async () => {
  const ckpt = await openCheckpoint(TINY);
  const r = await ReferenceJamba.fromSource(ckpt.config as JambaConfig, ckpt.src);
  for (const k of [0, 1]) {
    assertClose(
      r.forward(ref.sequences[k].ids).logits,
      await refTensors.read(`logits.${k}`),
      1e-5,
      `reference, sequence ${k}`,
    );
  }
});

Deno.test("jamba tiny: transformers 5's fused experts load to identical logits", async () => {
  const ckpt = await openCheckpoint(TINY);
  const cfg = ckpt.config as JambaConfig;
  const dir = await Deno.makeTempDir({ prefix: "quamba-jamba-fused-" });
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
    await Deno.copyFile(join(TINY, f), join(dir, f));
  }
  // experts.{j}.{gate,up,down}_proj.weight -> experts.gate_up_proj [E, 2f, d], experts.down_proj [E, d, f]
  const tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
  const f = cfg.intermediate_size, d = cfg.hidden_size, E = cfg.num_experts;
  const fused = new Set<string>();
  for (const name of ckpt.store.names()) {
    const m = /^(.*\.experts)\.\d+\./.exec(name);
    if (!m) {
      const t = ckpt.store.info(name);
      tensors[name] = { dtype: t.dtype, shape: t.shape, data: await ckpt.store.readBytes(name) };
    } else if (!fused.has(m[1])) {
      fused.add(m[1]);
      const gu = new Float32Array(E * 2 * f * d), dn = new Float32Array(E * d * f);
      for (let j = 0; j < E; j++) {
        gu.set(await ckpt.store.read(`${m[1]}.${j}.gate_proj.weight`), j * 2 * f * d);
        gu.set(await ckpt.store.read(`${m[1]}.${j}.up_proj.weight`), (j * 2 + 1) * f * d);
        dn.set(await ckpt.store.read(`${m[1]}.${j}.down_proj.weight`), j * d * f);
      }
      tensors[`${m[1]}.gate_up_proj`] = { dtype: "F32", shape: [E, 2 * f, d], data: bytesOf(gu) };
      tensors[`${m[1]}.down_proj`] = { dtype: "F32", shape: [E, d, f], data: bytesOf(dn) };
    }
  }
  assert.equal(fused.size, 2, "two MoE layers");
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  const hub = await loadModel(TINY, { cacheDir, ep: TEST_EP });
  const other = await loadModel(dir, { cacheDir, ep: TEST_EP });
  const ids: number[] = ref.sequences[1].ids;
  assert.deepEqual(await other.logits(ids), await hub.logits(ids));
  await hub.close();
  await other.close();
});

// Seeded random configs (tests/helpers/seeded.ts makes the weights Python made)
const seeded = await seededJambas();
const seededRefs = await SafetensorsStore.openFile(join(FIX, "seeded", "jamba_seeded.safetensors"));

for (const name of Object.keys(seeded)) {
  Deno.test(`seeded ${name}: logits within 1e-4 of transformers, greedy identical, the reference agrees`, async () => {
    const { dir, v } = await writeSeededJamba(name);
    const model: Model = await loadModel(dir, { cacheDir, ep: TEST_EP });
    const want = await seededRefs.read(`${name}.logits`);
    const { logits } = await model.prefill([v.ids]);
    assertClose(logits, want, 1e-4, "logits");
    assert.deepEqual(
      await model.generate(v.greedy_prompt, { maxNewTokens: v.greedy.length }),
      v.greedy,
    );
    const ckpt = await openCheckpoint(dir);
    const r = await ReferenceJamba.fromSource(ckpt.config as JambaConfig, ckpt.src);
    const e = relErr(r.forward(v.ids).logits, want);
    assert.ok(e < 1e-5, `reference vs transformers: ${e}`);
    await model.close();
  });
}
