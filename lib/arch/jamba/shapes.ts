/**
 * Jamba shapes for latency and memory measurements with seeded random weights (lib/synthetic.ts),
 * scaled down from Jamba-v0.1 (ai21labs/Jamba-v0.1: 32 layers of hidden 4096, attention 1 layer
 * in 8 from layer 4 with 32 heads and 8 key/value heads, 16 experts top-2 every other layer from
 * layer 1, Mamba d_state 16, d_conv 4, expand 2, vocabulary 65536) with its ratios kept:
 *
 *   jamba-300m: 16 layers of 768 (2 attention: 12 heads, 4 kv), MLP 2048, 4 experts top-2:
 *               345M parameters, 270M active per token
 *   jamba-1b:   16 layers of 1536 (2 attention: 24 heads, 8 kv), MLP 4096, 4 experts top-2:
 *               1.18B parameters, 876M active per token
 */
import { KitError } from "../../errors.ts";
import { type JambaConfig, parseJambaConfig } from "./config.ts";

const COMMON = {
  model_type: "jamba",
  vocab_size: 65536,
  num_hidden_layers: 16,
  attn_layer_period: 8,
  attn_layer_offset: 4,
  expert_layer_period: 2,
  expert_layer_offset: 1,
  num_experts: 4,
  num_experts_per_tok: 2,
  mamba_d_state: 16,
  mamba_d_conv: 4,
  mamba_expand: 2,
  tie_word_embeddings: false,
};

/** The shapes by name. */
export const JAMBA_SHAPES: Record<string, Record<string, number>> = {
  "jamba-300m": {
    hidden_size: 768,
    num_attention_heads: 12,
    num_key_value_heads: 4,
    intermediate_size: 2048,
  },
  "jamba-1b": {
    hidden_size: 1536,
    num_attention_heads: 24,
    num_key_value_heads: 8,
    intermediate_size: 4096,
  },
};

/**
 * The config of a named Jamba shape.
 *
 * @example
 * ```ts
 * jambaShapeConfig("jamba-300m").hidden_size; // 768
 * ```
 */
export function jambaShapeConfig(name: string): JambaConfig {
  const s = JAMBA_SHAPES[name];
  if (!s) {
    throw new KitError(
      `unknown Jamba shape '${name}' (known: ${Object.keys(JAMBA_SHAPES).join(", ")})`,
    );
  }
  return parseJambaConfig({ ...COMMON, ...s }, name);
}
