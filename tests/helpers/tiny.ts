/** Small random Mamba checkpoints written to temporary folders, for tests. */
import { join } from "node:path";
import { expectedTensors } from "../../lib/checkpoint.ts";
import { type MambaConfig, parseConfig } from "../../lib/arch/mamba/config.ts";
import { bytesOf } from "../../lib/onnx/builder.ts";
import { writeSafetensors } from "../../lib/safetensors.ts";
import { mulberry32 } from "../../lib/random.ts";

/** A deterministic generator (mulberry32) of numbers in [-1, 1). */
export function rng(seed: number): () => number {
  const u = mulberry32(seed);
  return () => 2 * u() - 1;
}

/** Writes a random checkpoint; returns its folder and config. */
export async function tinyCheckpoint(
  overrides: Record<string, unknown> = {},
  seed = 1,
): Promise<{ dir: string; config: MambaConfig }> {
  const raw = {
    model_type: "mamba",
    vocab_size: 64,
    hidden_size: 16,
    state_size: 4,
    num_hidden_layers: 2,
    expand: 2,
    conv_kernel: 4,
    time_step_rank: "auto",
    use_bias: false,
    use_conv_bias: true,
    residual_in_fp32: true,
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: true,
    ...overrides,
  };
  const config = parseConfig(raw, "config.json");
  const dir = await Deno.makeTempDir({ prefix: "quamba-tiny-" });
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(raw));
  const r = rng(seed);
  const tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
  for (const [name, shape] of expectedTensors(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (name.endsWith("A_log")) x[i] = Math.log(1 + (i % config.state_size)) + 0.3 * r();
      else if (name.endsWith("norm.weight") || name.endsWith("norm_f.weight")) x[i] = 1 + 0.2 * r();
      else if (name.endsWith("dt_proj.bias")) x[i] = -3 + r();
      else x[i] = 0.4 * r();
    }
    tensors[name] = { dtype: "F32", shape, data: bytesOf(x) };
  }
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  return { dir, config };
}
