/**
 * Mamba-2 against transformers' Mamba2ForCausalLM in float64 (scripts/make_mamba2_fixture.py):
 * tests/fixtures/mamba2_tiny, a tiny trained model with n_groups 1 (logits, greedy continuations,
 * held-out NLL, transformers' own decode steps), and tests/fixtures/mamba2_groups, a seeded random
 * model with n_groups 2 and a finite time_step_limit, on which transformers normalises the gated
 * RMSNorm over all of d_inner (the kit's `norm_groups: 1`) where mamba_ssm normalises per group
 * (the kit's default, checked against the float64 TypeScript reference).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Mamba2Config } from "../lib/arch/mamba2/config.ts";
import { ReferenceMamba2 } from "../lib/arch/mamba2/reference.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { loadModel } from "../lib/model.ts";
import { SafetensorsStore } from "../lib/safetensors.ts";
import { assertClose, relErr } from "./helpers/assert.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { meanNll } from "./helpers/nll.ts";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
const TINY = join(FIX, "mamba2_tiny"), GROUPS = join(FIX, "mamba2_groups");
const ref = JSON.parse(await Deno.readTextFile(join(TINY, "reference.json")));
const refTensors = await SafetensorsStore.openFile(join(TINY, "reference.safetensors"));
const gref = JSON.parse(await Deno.readTextFile(join(GROUPS, "reference.json")));
const gTensors = await SafetensorsStore.openFile(join(GROUPS, "reference.safetensors"));
const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });

/** A copy of a fixture folder with config.json fields changed. */
async function withConfig(dir: string, fields: Record<string, unknown>): Promise<string> {
  const out = await Deno.makeTempDir({ prefix: "quamba-mamba2-" });
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) await Deno.copyFile(join(dir, e.name), join(out, e.name));
  }
  const text = await Deno.readTextFile(join(dir, "config.json"));
  const cfg = JSON.parse(text.replaceAll("Infinity", '"Infinity"'));
  await Deno.writeTextFile(join(out, "config.json"), JSON.stringify({ ...cfg, ...fields }));
  return out;
}

for (const scan of ["sequential", "parallel"] as const) {
  Deno.test(`mamba2 tiny fp32 (${scan}): logits within 1e-4 of transformers, greedy identical, NLL within 1e-4`, async () => {
    const model = await loadModel(TINY, { cacheDir, ep: TEST_EP, scan });
    assert.equal(model.config.model_type, "mamba2");
    for (const [k, seq] of (ref.sequences as { ids: number[] }[]).entries()) {
      assertClose(
        await model.logits(seq.ids),
        await refTensors.read(`logits.${k}`),
        1e-4,
        `sequence ${k}`,
      );
    }
    for (const g of ref.greedy) {
      assert.deepEqual(model.tokenizer.encode(g.prompt), g.prompt_ids, `prompt ids of ${g.prompt}`);
      const out = await model.generate(g.prompt_ids, { maxNewTokens: 32 });
      assert.deepEqual(out, g.continuation_ids, `continuation of ${JSON.stringify(g.prompt)}`);
    }
    const ids: number[] = ref.heldout.ids;
    const nll = meanNll(await model.logits(ids), ids, model.config.vocab_size);
    assert.ok(Math.abs(nll - ref.heldout.mean_nll) < 1e-4, `NLL ${nll} vs ${ref.heldout.mean_nll}`);
    assert.ok(nll < 3.5, `the tiny Mamba-2 should have learned English (NLL ${nll})`);
    await model.close();
  });
}

Deno.test("mamba2 tiny: decode steps equal transformers' cached steps; the reference agrees", async () => {
  const model = await loadModel(TINY, { cacheDir, ep: TEST_EP });
  const ids: number[] = ref.sequences[1].ids, v = model.config.vocab_size;
  // transformers: a prefill of 7 tokens, then one cached step per token (positions 6..len-2)
  const want = await refTensors.read("step_logits.1");
  let { state, logits } = await model.prefill([ids.slice(0, 7)]);
  const got = [logits.subarray(6 * v)];
  for (let t = 7; t < ids.length - 1; t++) {
    const step = await model.decode([ids[t]], state);
    got.push(step.logits);
    state = step.state;
  }
  const flat = new Float32Array(got.length * v);
  got.forEach((row, i) => flat.set(row, i * v));
  assertClose(flat, want, 1e-4, "decode steps");
  const ckpt = await openCheckpoint(TINY);
  const r = await ReferenceMamba2.fromSource(ckpt.config as Mamba2Config, ckpt.src);
  for (const k of [0, 1]) {
    const e = relErr(r.forward(ref.sequences[k].ids).logits, await refTensors.read(`logits.${k}`));
    assert.ok(e < 1e-5, `reference vs transformers, sequence ${k}: ${e}`);
  }
  await model.close();
});

Deno.test("mamba2 groups: transformers' gated norm (norm_groups 1) within 1e-4; mamba_ssm's per group differs and equals the reference", async () => {
  const ids: number[] = gref.ids;
  const want = await gTensors.read("logits");
  const asTf = await loadModel(await withConfig(GROUPS, { norm_groups: 1 }), {
    cacheDir,
    ep: TEST_EP,
  });
  assertClose(await asTf.logits(ids), want, 1e-4, "norm over d_inner vs transformers");
  const perGroup = await loadModel(GROUPS, { cacheDir, ep: TEST_EP });
  const cfg = perGroup.config as Mamba2Config;
  assert.equal(cfg.n_groups, 2);
  assert.equal(cfg.norm_groups, 2, "mamba_ssm's per-group norm is the default");
  const ours = await perGroup.logits(ids);
  assert.ok(relErr(ours, want) > 1e-2, `the per-group norm differs (${relErr(ours, want)})`);
  const ckpt = await openCheckpoint(GROUPS);
  const r = await ReferenceMamba2.fromSource(cfg, ckpt.src);
  assertClose(ours, r.forward(ids).logits, 1e-5, "per-group norm vs the float64 reference");
  const rTf = await ReferenceMamba2.fromSource({ ...cfg, norm_groups: 1 }, ckpt.src);
  assert.ok(relErr(rTf.forward(ids).logits, want) < 1e-5, "the reference as transformers");
  await asTf.close();
  await perGroup.close();
});

Deno.test("mamba2 groups: transformers' cached decode skips dt's clamp (its prefill clamps); the kit clamps in both", async () => {
  const ids: number[] = gref.ids, v = 300;
  const full = await gTensors.read("logits"), steps = await gTensors.read("step_logits");
  const dir = await withConfig(GROUPS, { norm_groups: 1 });
  const ckpt = await openCheckpoint(dir);
  const cfg = ckpt.config as Mamba2Config;
  // which decode positions have some head's dt outside time_step_limit (the reference's hook
  // sees dt before dt_bias, layer by layer)
  const clamped = new Set<number>();
  let pos = -1;
  const bias = await Promise.all(
    Array.from(
      { length: cfg.num_hidden_layers },
      (_, i) => ckpt.src.read(`backbone.layers.${i}.mixer.dt_bias`),
    ),
  );
  const [lo, hi] = cfg.time_step_limit;
  const hooks = {
    act(layer: number, name: string, x: Float64Array) {
      if (name === "dt") {
        x.forEach((raw, hh) => {
          const dt = Math.log1p(Math.exp(raw + bias[layer][hh]));
          if (dt < lo || dt > hi) clamped.add(pos);
        });
      }
      return x;
    },
  };
  // transformers: prefill 5 tokens (clamped), then unclamped steps: our reference does the same
  const pre = await ReferenceMamba2.fromSource(cfg, ckpt.src, hooks);
  const free = await ReferenceMamba2.fromSource(cfg, ckpt.src, hooks, { clampDt: false });
  const state = pre.initialState();
  const rows = [pre.forward(ids.slice(0, 5), state).logits.subarray(4 * v)];
  for (let t = 5; t < ids.length - 1; t++) {
    pos = t;
    rows.push(free.step(ids[t], state));
  }
  const flat = new Float32Array(rows.length * v);
  rows.forEach((r, i) => flat.set(r, i * v));
  assertClose(flat, steps, 1e-5, "transformers' steps = prefill clamped, steps unclamped");
  // the kit's decode steps clamp: they equal transformers' full (clamped) forward instead
  const model = await loadModel(dir, { cacheDir, ep: TEST_EP });
  let s = (await model.prefill([ids.slice(0, 5)])).state;
  for (let t = 5; t < ids.length - 1; t++) {
    const out = await model.decode([ids[t]], s);
    assertClose(out.logits, full.subarray(t * v, (t + 1) * v), 1e-4, `kit decode ${t}`);
    s = out.state;
  }
  // the steps differ from the full forward from the first decode step that clamps on
  const first = Math.min(...[...clamped].filter((t) => t >= 5));
  for (let t = 5; t < ids.length - 1; t++) {
    const d = relErr(steps.subarray((t - 4) * v, (t - 3) * v), full.subarray(t * v, (t + 1) * v));
    assert.equal(
      d > 1e-4,
      t >= first,
      `position ${t}: relative difference ${d}, first clamp at ${first}`,
    );
  }
  assert.ok(clamped.size > 0 && first === 5, `clamping decode positions: ${[...clamped]}`);
  await model.close();
});
