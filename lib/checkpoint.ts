/**
 * A checkpoint folder of any registered architecture (lib/arch/registry.ts): config, tensors
 * (checked against the config) and tokenizer files.
 */
import { join } from "node:path";
import { type Architecture, archOf, type ModelConfig, readModelConfig } from "./arch/registry.ts";
import type { TensorView } from "./arch/types.ts";
import { KitError } from "./errors.ts";
import { SafetensorsStore } from "./safetensors.ts";

export { expectedTensors } from "./arch/mamba/tensors.ts";

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64"]);

/** A checkpoint whose tensors have all been checked against its config. */
export interface Checkpoint {
  dir: string;
  config: ModelConfig;
  /** Its architecture (from `config.model_type`). */
  arch: Architecture;
  /** The weight files as stored. */
  store: SafetensorsStore;
  /** The tensors under the names the architecture expects (other layouts mapped onto them). */
  src: TensorView;
  /** Tensor name of the output projection (the embedding when tied). */
  lmHead: string;
}

/**
 * Opens a Hugging Face checkpoint folder (Mamba-1 or Jamba) and checks that every tensor the
 * config needs is there with the right shape and a floating dtype, and that no tensor is left
 * unused; a disagreement names the file, the tensor and the config field.
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
  const config = await readModelConfig(dir);
  const arch = archOf(config.model_type);
  const configFile = join(dir, "config.json");
  const store = await SafetensorsStore.open(dir);
  const src = arch.tensorView(store);
  arch.checkTensors(config, src, configFile);
  const expected = arch.expectedTensors(config);
  for (const [name, shape] of expected) {
    const t = src.info(name);
    if (t.shape.join(",") !== shape.join(",")) {
      const fields = arch.shapeFields(name);
      throw new KitError(
        `${t.file}: tensor '${name}' has shape [${t.shape}], expected [${shape}] from ${configFile}${
          fields ? ` (${fields})` : ""
        }`,
      );
    }
    if (!FLOAT_DTYPES.has(t.dtype)) {
      throw new KitError(`${t.file}: tensor '${name}' has dtype ${t.dtype}; expected F32/F16/BF16`);
    }
  }
  const lmHead = arch.lmHead(config);
  const extra = src.names().filter((n) =>
    !expected.has(n) && !(n === "lm_head.weight" && config.tie_word_embeddings)
  );
  if (extra.length) {
    throw new KitError(
      `${dir}: unexpected tensors ${extra.slice(0, 5).join(", ")}${
        extra.length > 5 ? ` (and ${extra.length - 5} more)` : ""
      } for a ${config.num_hidden_layers}-layer ${arch.label} config`,
    );
  }
  return { dir, config, arch, store, src, lmHead };
}
