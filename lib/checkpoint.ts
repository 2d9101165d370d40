/**
 * A Mamba checkpoint folder: config, tensors (checked against the config) and tokenizer files.
 */
import { join } from "node:path";
import { type MambaConfig, readConfig } from "./config.ts";
import { KitError } from "./errors.ts";
import { SafetensorsStore } from "./safetensors.ts";

/** Name and shape of every parameter a Mamba-1 checkpoint must hold, in checkpoint naming. */
export function expectedTensors(cfg: MambaConfig): Map<string, number[]> {
  const { hidden_size: d, intermediate_size: e, state_size: n, conv_kernel: k } = cfg;
  const r = cfg.time_step_rank, v = cfg.vocab_size;
  const m = new Map<string, number[]>();
  m.set("backbone.embeddings.weight", [v, d]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `backbone.layers.${i}`;
    m.set(`${p}.norm.weight`, [d]);
    m.set(`${p}.mixer.in_proj.weight`, [2 * e, d]);
    if (cfg.use_bias) m.set(`${p}.mixer.in_proj.bias`, [2 * e]);
    m.set(`${p}.mixer.conv1d.weight`, [e, 1, k]);
    if (cfg.use_conv_bias) m.set(`${p}.mixer.conv1d.bias`, [e]);
    m.set(`${p}.mixer.x_proj.weight`, [r + 2 * n, e]);
    m.set(`${p}.mixer.dt_proj.weight`, [e, r]);
    m.set(`${p}.mixer.dt_proj.bias`, [e]);
    m.set(`${p}.mixer.A_log`, [e, n]);
    m.set(`${p}.mixer.D`, [e]);
    m.set(`${p}.mixer.out_proj.weight`, [d, e]);
    if (cfg.use_bias) m.set(`${p}.mixer.out_proj.bias`, [d]);
  }
  m.set("backbone.norm_f.weight", [d]);
  if (!cfg.tie_word_embeddings) m.set("lm_head.weight", [v, d]);
  return m;
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64"]);

/** A checkpoint whose tensors have all been checked against its config. */
export interface Checkpoint {
  dir: string;
  config: MambaConfig;
  store: SafetensorsStore;
  /** Tensor name of the output projection (the embedding when tied). */
  lmHead: string;
}

/**
 * Opens a Hugging Face Mamba checkpoint folder and checks that every tensor the config needs is
 * there with the right shape and a floating dtype, and that no tensor is left unused.
 *
 * @example
 * ```ts
 * const ckpt = await openCheckpoint("data/models/embedded");
 * ckpt.config.hidden_size; // 256
 * ```
 */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  try {
    if (!(await Deno.stat(dir)).isDirectory) throw new Error();
  } catch {
    throw new KitError(`${dir}: not a folder (expected a Hugging Face checkpoint folder)`);
  }
  const config = await readConfig(dir);
  const store = await SafetensorsStore.open(dir);
  const expected = expectedTensors(config);
  for (const [name, shape] of expected) {
    const t = store.info(name);
    if (t.shape.join(",") !== shape.join(",")) {
      throw new KitError(
        `${t.file}: tensor '${name}' has shape [${t.shape}], expected [${shape}] from ${
          join(dir, "config.json")
        }`,
      );
    }
    if (!FLOAT_DTYPES.has(t.dtype)) {
      throw new KitError(`${t.file}: tensor '${name}' has dtype ${t.dtype}; expected F32/F16/BF16`);
    }
  }
  const extra = store.names().filter((n) =>
    !expected.has(n) && !(n === "lm_head.weight" && config.tie_word_embeddings)
  );
  if (extra.length) {
    throw new KitError(
      `${dir}: unexpected tensors ${extra.slice(0, 5).join(", ")}${
        extra.length > 5 ? ` (and ${extra.length - 5} more)` : ""
      } for a ${config.num_hidden_layers}-layer Mamba config`,
    );
  }
  const lmHead = config.tie_word_embeddings ? "backbone.embeddings.weight" : "lm_head.weight";
  return { dir, config, store, lmHead };
}
