/**
 * Jamba's mixture of experts as the kit computes it (every expert on every token, weighted by
 * the top-K routing weights: exact, and int8-fusable) against the work a gather of only the K
 * routed experts would do: one MoE layer of the jamba-300m shape (d 768, f 2048, top-2) with 4
 * experts computed densely vs with 2 (a lower bound on a gather's cost, which also pays the
 * gather), one Mamba layer before it, at decode (1 token) and prefill (128 tokens), fp32.
 *
 *   deno bench -A bench/moe_bench.ts
 */
import { parseJambaConfig } from "../lib/arch/jamba/config.ts";
import { archOfConfig } from "../lib/arch/registry.ts";
import { openGraph } from "../lib/bench/micro.ts";
import { zeroState } from "../lib/state.ts";
import { syntheticWeights } from "../lib/synthetic.ts";
import { Tensor } from "../lib/runtime.ts";

const opt = { weights: "float32", compute: "float32" } as const;

for (const experts of [4, 2]) {
  const cfg = parseJambaConfig({
    model_type: "jamba",
    vocab_size: 512,
    hidden_size: 768,
    intermediate_size: 2048,
    num_hidden_layers: 2,
    num_attention_heads: 12,
    num_key_value_heads: 4,
    attn_layer_period: 8,
    attn_layer_offset: 4,
    expert_layer_period: 2,
    expert_layer_offset: 1,
    num_experts: experts,
    num_experts_per_tok: 2,
  }, "moe_bench");
  const arch = archOfConfig(cfg), src = syntheticWeights(cfg);
  const state = zeroState(arch.stateLayout(cfg), 1);
  const past = Object.fromEntries(Object.entries(state.tensors).map(([n, t]) => [`past_${n}`, t]));
  const what = experts === 4 ? "4 experts dense (the kit)" : "2 experts (a gather's work)";
  const decode = (await openGraph(arch.buildDecode(cfg, src, opt))).session;
  const one = new Tensor("int64", BigInt64Array.of(1n), [1]);
  Deno.bench({
    name: `decode 1 token: ${what}`,
    group: "decode",
    baseline: experts === 4,
    async fn() {
      await decode.run({ input_ids: one, ...past });
    },
  });
  const prefill = (await openGraph(arch.buildPrefill(cfg, src, opt))).session;
  const ids = new Tensor("int64", BigInt64Array.from({ length: 128 }, (_, i) => BigInt(i)), [
    1,
    128,
  ]);
  Deno.bench({
    name: `prefill 128 tokens: ${what}`,
    group: "prefill",
    baseline: experts === 4,
    async fn() {
      await prefill.run({ input_ids: ids, ...past });
    },
  });
}
