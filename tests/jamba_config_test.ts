/**
 * Jamba configs and checkpoints that disagree fail with the field and the tensor named, before
 * anything is built.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseJambaConfig } from "../lib/arch/jamba/config.ts";
import { parseModelConfig } from "../lib/arch/registry.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { KitError } from "../lib/errors.ts";
import { TINY_JAMBA, tinyJamba } from "./helpers/jamba.ts";

const bad = (overrides: Record<string, unknown>) => () =>
  parseJambaConfig({ ...TINY_JAMBA, ...overrides }, "x/config.json");

Deno.test("jamba config: heads, periods, offsets and expert counts are checked, naming the field", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { num_key_value_heads: 3 },
      /'num_key_value_heads' \(3\) must divide 'num_attention_heads' \(4\)/,
    ],
    [
      { num_attention_heads: 5 },
      /'hidden_size' \(24\) must be a multiple of 'num_attention_heads' \(5\)/,
    ],
    [
      { attn_layer_offset: 2 },
      /'attn_layer_offset' \(2\) must be smaller than 'attn_layer_period' \(2\)/,
    ],
    [
      { expert_layer_offset: 3, expert_layer_period: 3 },
      /'expert_layer_offset' \(3\) must be smaller/,
    ],
    [{ num_experts_per_tok: 4 }, /'num_experts_per_tok' \(4\) must be at most 'num_experts' \(3\)/],
    [{ num_experts: 0 }, /'num_experts' must be an integer >= 1, got 0/],
    [{ attn_layer_period: "2" }, /'attn_layer_period' must be an integer >= 1, got "2"/],
    [
      { mamba_expand: 1.5, hidden_size: 25, num_attention_heads: 5, num_key_value_heads: 5 },
      /'mamba_expand'/,
    ],
    [{ mamba_dt_rank: 0 }, /'mamba_dt_rank' must be a positive integer or "auto"/],
    [{ hidden_act: "gelu" }, /'hidden_act' is 'gelu'/],
    [{ mamba_d_conv: 1 }, /'mamba_d_conv' must be at least 2/],
  ];
  for (const [o, re] of cases) {
    assert.throws(
      bad(o),
      (e: Error) =>
        e instanceof KitError && /x\/config\.json/.test(e.message) && re.test(e.message),
      JSON.stringify(o),
    );
  }
  // num_key_value_heads null means multi-head attention, as in transformers
  assert.equal(
    parseJambaConfig({ ...TINY_JAMBA, num_key_value_heads: null }, "c").num_key_value_heads,
    4,
  );
  assert.throws(
    () => parseModelConfig({ model_type: "zamba2" }, "c.json"),
    /'zamba2' is not supported yet \(supported: 'mamba', 'jamba', 'mamba2'\)/,
  );
  assert.throws(() => parseModelConfig({ model_type: "llama" }, "c.json"), /'llama' is unknown/);
});

/** A tiny Jamba whose config.json is then changed by `edit`. */
async function edited(edit: Record<string, unknown>): Promise<string> {
  const { dir } = await tinyJamba({}, 3);
  const file = join(dir, "config.json");
  const raw = JSON.parse(await Deno.readTextFile(file));
  await Deno.writeTextFile(file, JSON.stringify({ ...raw, ...edit }));
  return dir;
}

Deno.test("jamba checkpoint: tensors that disagree with the config name the layer, tensor and fields", async () => {
  // the checkpoint: attention at 1 and 3, experts (3) at 0 and 2
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { attn_layer_offset: 0 },
      /layer 0 holds a Mamba mixer \('model\.layers\.0\.mamba\.[^']+'\), but attn_layer_period 2 and attn_layer_offset 0 in .*config\.json make it an attention layer/,
    ],
    [
      { attn_layer_period: 4, attn_layer_offset: 1 },
      /layer 3 holds attention \('model\.layers\.3\.self_attn\.[^']+'\), but .* make it a Mamba layer/,
    ],
    [
      { num_experts: 4 },
      /layer 0 holds 3 experts \(feed_forward\.experts\.\{0\.\.2\}\), but num_experts is 4/,
    ],
    [
      { expert_layer_offset: 1 },
      /layer 0 holds a mixture of 3 experts \('model\.layers\.0\.feed_forward\.experts\.[^']+'\), but expert_layer_period 2 and expert_layer_offset 1 .* make it a dense MLP/,
    ],
    [
      { expert_layer_period: 1 },
      /layer 1 holds a dense MLP \('model\.layers\.1\.feed_forward\.[^']+'\), but .* make it a mixture of experts/,
    ],
    [
      { num_key_value_heads: 1 },
      /tensor 'model\.layers\.1\.self_attn\.k_proj\.weight' has shape \[12,24\], expected \[6,24\] .*\(num_key_value_heads × hidden_size \/ num_attention_heads, hidden_size\)/,
    ],
    [{ num_hidden_layers: 3 }, /belongs to layer 3, but num_hidden_layers is 3/],
    [
      { intermediate_size: 16 },
      /gate_proj\.weight' has shape \[20,24\], expected \[16,24\].*intermediate_size/,
    ],
    [{ mamba_d_state: 4 }, /has shape .*expected .*mamba_d_state/],
  ];
  for (const [edit, re] of cases) {
    const dir = await edited(edit);
    await assert.rejects(
      () => openCheckpoint(dir),
      (e: Error) => e instanceof KitError && re.test(e.message),
      `${JSON.stringify(edit)}`,
    );
  }
});

Deno.test("jamba checkpoint: a missing expert or mixer tensor is named", async () => {
  const { dir } = await tinyJamba({}, 3);
  const { SafetensorsStore, writeSafetensors } = await import("../lib/safetensors.ts");
  const store = await SafetensorsStore.open(dir);
  const tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
  for (const n of store.names()) {
    if (n === "model.layers.2.feed_forward.experts.1.up_proj.weight") continue;
    const t = store.info(n);
    tensors[n] = { dtype: t.dtype, shape: t.shape, data: await store.readBytes(n) };
  }
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  await assert.rejects(
    () => openCheckpoint(dir),
    /tensor 'model\.layers\.2\.feed_forward\.experts\.1\.up_proj\.weight' is missing/,
  );
});
