/** Small Jamba checkpoints for tests: random ones of any config, and the seeded fixtures'. */
import { join } from "node:path";
import { expectedJambaTensors } from "../../lib/arch/jamba/tensors.ts";
import { type JambaConfig, parseJambaConfig } from "../../lib/arch/jamba/config.ts";
import { bytesOf } from "../../lib/onnx/builder.ts";
import { writeSafetensors } from "../../lib/safetensors.ts";
import { writeSeededCheckpoint } from "./seeded.ts";
import { rng } from "./tiny.ts";

/** A small Jamba config with odd shapes: GQA, attention at 1 and 3, experts at 0 and 2. */
export const TINY_JAMBA: Record<string, unknown> = {
  model_type: "jamba",
  vocab_size: 53,
  hidden_size: 24,
  intermediate_size: 20,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  attn_layer_period: 2,
  attn_layer_offset: 1,
  expert_layer_period: 2,
  expert_layer_offset: 0,
  num_experts: 3,
  num_experts_per_tok: 2,
  mamba_d_state: 5,
  mamba_d_conv: 3,
  mamba_expand: 2,
  mamba_dt_rank: "auto",
  mamba_conv_bias: true,
  mamba_proj_bias: false,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: false,
};

/**
 * Writes a random Jamba checkpoint (TINY_JAMBA with `overrides`); returns its folder and config.
 *
 * @example
 * ```ts
 * const { dir } = await tinyJamba({ num_key_value_heads: 1 }, 3);
 * ```
 */
export async function tinyJamba(
  overrides: Record<string, unknown> = {},
  seed = 1,
): Promise<{ dir: string; config: JambaConfig }> {
  const raw = { ...TINY_JAMBA, ...overrides };
  const config = parseJambaConfig(raw, "config.json");
  const dir = await Deno.makeTempDir({ prefix: "quamba-jamba-" });
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(raw));
  const r = rng(seed);
  const tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
  for (const [name, shape] of expectedJambaTensors(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (name.endsWith("A_log")) x[i] = Math.log(1 + (i % config.mamba_d_state)) + 0.3 * r();
      else if (name.endsWith("norm.weight")) x[i] = 1 + 0.2 * r();
      else if (name.endsWith("dt_proj.bias")) x[i] = -3 + r();
      else if (name.includes("embed")) x[i] = r();
      else x[i] = 1.2 * r() / Math.sqrt(shape[shape.length - 1]);
    }
    tensors[name] = { dtype: "F32", shape, data: bytesOf(x) };
  }
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  return { dir, config };
}

/** One of tests/fixtures/seeded/jamba_seeded.json's checkpoints. */
export interface SeededJamba {
  seed: number;
  config: Record<string, unknown>;
  specs: [string, number[]][];
  ids: number[];
  greedy_prompt: number[];
  greedy: number[];
}

const FIX = new URL("../fixtures/seeded/", import.meta.url).pathname;

/** The seeded Jamba checkpoints' descriptions, by name. */
export async function seededJambas(): Promise<Record<string, SeededJamba>> {
  return JSON.parse(await Deno.readTextFile(join(FIX, "jamba_seeded.json"))).checkpoints;
}

/** Writes the seeded Jamba checkpoint `name` (the same float32 values Python made). */
export async function writeSeededJamba(name: string): Promise<{ dir: string; v: SeededJamba }> {
  const v = (await seededJambas())[name];
  const dir = await writeSeededCheckpoint(
    await Deno.makeTempDir({ prefix: `quamba-${name}-` }),
    v.config,
    v.specs,
    v.seed,
  );
  return { dir, v };
}
