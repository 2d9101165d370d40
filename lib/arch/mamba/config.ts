/**
 * The fields of a Hugging Face Mamba `config.json` that change the math, validated and resolved.
 *
 * Glossary of dimensions used throughout the kit (as in mamba-minimal):
 *   b  batch size                       l  sequence length
 *   d  d_model = hidden_size            e  d_inner = intermediate_size (expand * d_model)
 *   n  d_state = state_size             r  dt_rank = time_step_rank
 *   k  d_conv  = conv_kernel            v  vocab_size (embedding rows, padded)
 */
import { KitError } from "../../errors.ts";

/** A resolved Mamba-1 configuration (names as in transformers' `MambaConfig`). */
export interface MambaConfig {
  model_type: "mamba";
  /** d */
  hidden_size: number;
  /** e */
  intermediate_size: number;
  /** n */
  state_size: number;
  num_hidden_layers: number;
  /** k */
  conv_kernel: number;
  /** r, resolved from "auto" to ceil(d / 16) */
  time_step_rank: number;
  use_bias: boolean;
  use_conv_bias: boolean;
  tie_word_embeddings: boolean;
  layer_norm_epsilon: number;
  residual_in_fp32: boolean;
  /** v: rows of the embedding, may exceed the tokenizer's vocabulary (padding) */
  vocab_size: number;
  eos_token_id: number;
  bos_token_id: number;
  pad_token_id: number;
}

/** Model types the kit knows of and does not build yet (Jamba has its own parser, lib/arch/jamba/). */
const PLANNED = new Set(["mamba2", "falcon_mamba", "zamba", "zamba2", "bamba"]);

/**
 * Validates a parsed `config.json` (`file` names it in errors) and resolves derived fields.
 *
 * @example
 * ```ts
 * const cfg = parseConfig({ model_type: "mamba", hidden_size: 768, num_hidden_layers: 24 }, "config.json");
 * cfg.intermediate_size; // 1536
 * ```
 */
export function parseConfig(raw: unknown, file: string): MambaConfig {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new KitError(`${file}: expected a JSON object`);
  }
  const c = raw as Record<string, unknown>;
  const type = c.model_type;
  if (type !== "mamba") {
    const why = PLANNED.has(String(type))
      ? "is not supported yet (only Mamba-1, model_type 'mamba')"
      : "is unknown (expected 'mamba')";
    throw new KitError(`${file}: model_type '${type}' ${why}`);
  }
  const int = (key: string, dflt?: number): number => {
    const v = c[key] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      throw new KitError(`${file}: field '${key}' must be a positive integer, got ${show(v)}`);
    }
    return v;
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = c[key] ?? dflt;
    if (typeof v !== "boolean") {
      throw new KitError(`${file}: field '${key}' must be true or false, got ${show(v)}`);
    }
    return v;
  };
  const hidden = int("hidden_size");
  const expand = c.expand ?? 2;
  if (typeof expand !== "number" || expand <= 0) {
    throw new KitError(`${file}: field 'expand' must be a positive number, got ${show(expand)}`);
  }
  const inter = c.intermediate_size ?? Math.trunc(expand * hidden);
  let rank = c.time_step_rank ?? "auto";
  if (rank === "auto") rank = Math.ceil(hidden / 16);
  if (typeof rank !== "number" || !Number.isInteger(rank) || rank <= 0) {
    throw new KitError(
      `${file}: field 'time_step_rank' must be a positive integer or "auto", got ${show(rank)}`,
    );
  }
  const eps = c.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new KitError(`${file}: field 'layer_norm_epsilon' must be positive, got ${show(eps)}`);
  }
  const act = c.hidden_act ?? "silu";
  if (act !== "silu" && act !== "swish") {
    throw new KitError(`${file}: field 'hidden_act' is '${act}'; only 'silu' is supported`);
  }
  const idOr = (key: string) => (typeof c[key] === "number" ? c[key] as number : 0);
  const conv = int("conv_kernel", 4);
  if (conv < 2) throw new KitError(`${file}: field 'conv_kernel' must be at least 2, got ${conv}`);
  return {
    model_type: "mamba",
    hidden_size: hidden,
    intermediate_size: intOf(inter, "intermediate_size", file),
    state_size: int("state_size", 16),
    num_hidden_layers: int("num_hidden_layers", 32),
    conv_kernel: conv,
    time_step_rank: rank,
    use_bias: bool("use_bias", false),
    use_conv_bias: bool("use_conv_bias", true),
    tie_word_embeddings: bool("tie_word_embeddings", true),
    layer_norm_epsilon: eps,
    residual_in_fp32: bool("residual_in_fp32", true),
    vocab_size: int("vocab_size", 50280),
    eos_token_id: idOr("eos_token_id"),
    bos_token_id: idOr("bos_token_id"),
    pad_token_id: idOr("pad_token_id"),
  };
}

function intOf(v: unknown, key: string, file: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new KitError(`${file}: field '${key}' must be a positive integer, got ${show(v)}`);
  }
  return v;
}

function show(v: unknown): string {
  return v === undefined ? "nothing" : JSON.stringify(v);
}

/**
 * `config` as a Mamba-1 config, or an error saying that `what` handles Mamba-1 only.
 *
 * @example
 * ```ts
 * const cfg = asMambaConfig(model.config, "the recipe demo");
 * ```
 */
export function asMambaConfig(config: { model_type: string }, what = "this"): MambaConfig {
  if (config.model_type !== "mamba") {
    throw new KitError(
      `${what} handles Mamba-1 models only, not model_type '${config.model_type}'`,
    );
  }
  return config as MambaConfig;
}
