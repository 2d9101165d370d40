/**
 * Mamba-2 shapes for latency and memory measurements with seeded random weights
 * (lib/synthetic.ts): the five of state-spaces/mamba2-{130m,370m,780m,1.3b,2.7b} (mamba_ssm's
 * configs: expand 2, head_dim 64, d_state 128, one group, conv 4, tied embedding, vocabulary
 * 50277 padded to 50288, SSD chunks of 256).
 */
import { KitError } from "../../errors.ts";
import { type Mamba2Config, parseMamba2Config } from "./config.ts";

/** The shapes by name: hidden size and layers. */
export const MAMBA2_SHAPES: Record<string, { hidden_size: number; num_hidden_layers: number }> = {
  "mamba2-130m": { hidden_size: 768, num_hidden_layers: 24 },
  "mamba2-370m": { hidden_size: 1024, num_hidden_layers: 48 },
  "mamba2-780m": { hidden_size: 1536, num_hidden_layers: 48 },
  "mamba2-1.3b": { hidden_size: 2048, num_hidden_layers: 48 },
  "mamba2-2.7b": { hidden_size: 2560, num_hidden_layers: 64 },
};

/**
 * The config of a named Mamba-2 shape.
 *
 * @example
 * ```ts
 * mamba2ShapeConfig("mamba2-130m").num_heads; // 24
 * ```
 */
export function mamba2ShapeConfig(name: string): Mamba2Config {
  const s = MAMBA2_SHAPES[name];
  if (!s) {
    throw new KitError(
      `unknown Mamba-2 shape '${name}' (known: ${Object.keys(MAMBA2_SHAPES).join(", ")})`,
    );
  }
  return parseMamba2Config({
    model_type: "mamba2",
    vocab_size: 50288,
    expand: 2,
    head_dim: 64,
    num_heads: (2 * s.hidden_size) / 64,
    n_groups: 1,
    state_size: 128,
    conv_kernel: 4,
    chunk_size: 256,
    tie_word_embeddings: true,
    ...s,
  }, name);
}
