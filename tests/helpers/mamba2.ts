/** Small random Mamba-2 checkpoints for tests. */
import { join } from "node:path";
import { type Mamba2Config, parseMamba2Config } from "../../lib/arch/mamba2/config.ts";
import { expectedMamba2Tensors } from "../../lib/arch/mamba2/tensors.ts";
import { bytesOf } from "../../lib/onnx/builder.ts";
import { writeSafetensors } from "../../lib/safetensors.ts";
import { rng } from "./tiny.ts";

/**
 * A small Mamba-2 config with odd shapes: 2 groups of 3 heads of 5 (d_inner 30), state 4, conv 3,
 * chunks of 4, a finite time_step_limit, tied head.
 */
export const TINY_MAMBA2: Record<string, unknown> = {
  model_type: "mamba2",
  vocab_size: 41,
  hidden_size: 15,
  expand: 2,
  num_heads: 6,
  head_dim: 5,
  n_groups: 2,
  state_size: 4,
  conv_kernel: 3,
  num_hidden_layers: 3,
  chunk_size: 4,
  time_step_limit: [0.05, 0.8],
  use_bias: false,
  use_conv_bias: true,
  tie_word_embeddings: true,
  layer_norm_epsilon: 1e-5,
};

/**
 * Writes a random Mamba-2 checkpoint (TINY_MAMBA2 with `overrides`); returns its folder and config.
 *
 * @example
 * ```ts
 * const { dir } = await tinyMamba2({ n_groups: 1 }, 3);
 * ```
 */
export async function tinyMamba2(
  overrides: Record<string, unknown> = {},
  seed = 1,
): Promise<{ dir: string; config: Mamba2Config }> {
  const raw = { ...TINY_MAMBA2, ...overrides };
  const config = parseMamba2Config(raw, "config.json");
  const dir = await Deno.makeTempDir({ prefix: "quamba-mamba2-" });
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(raw));
  const r = rng(seed);
  const tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
  for (const [name, shape] of expectedMamba2Tensors(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (name.endsWith("A_log")) x[i] = Math.log(1 + i) + 0.3 * r();
      else if (name.endsWith("norm.weight")) x[i] = 1 + 0.3 * r();
      else if (name.endsWith("dt_bias")) x[i] = -1 + 1.5 * r();
      else if (name.endsWith(".D")) x[i] = r();
      else if (name.includes("embed")) x[i] = r();
      else x[i] = 1.2 * r() / Math.sqrt(shape[shape.length - 1]);
    }
    tensors[name] = { dtype: "F32", shape, data: bytesOf(x) };
  }
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  return { dir, config };
}
