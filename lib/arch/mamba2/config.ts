/**
 * The fields of a Hugging Face Mamba-2 `config.json` (transformers' `Mamba2Config`) that change
 * the math, validated and resolved.
 *
 * Glossary of dimensions (as lib/arch/mamba/config.ts's, plus the heads and groups of SSD):
 *   b  batch size                       l  sequence length
 *   d  d_model = hidden_size            e  d_inner = expand * d = h * p
 *   h  num_heads                        p  head_dim
 *   g  n_groups (heads share B and C in g groups of h / g heads)
 *   n  d_state = state_size             k  d_conv = conv_kernel
 *   c  conv_dim = e + 2 g n (the conv runs over x ‖ B ‖ C)
 *   v  vocab_size (embedding rows, padded)
 *
 * in_proj's output is z [e] ‖ x [e] ‖ B [g n] ‖ C [g n] ‖ dt [h] (no MLP part: transformers and
 * mamba_ssm allow one when in_proj is wider; the kit refuses it by shape).
 */
import { KitError } from "../../errors.ts";

/** A resolved Mamba-2 configuration (names as in transformers' `Mamba2Config`). */
export interface Mamba2Config {
  model_type: "mamba2";
  /** d */
  hidden_size: number;
  /** e = expand * d, checked equal to h * p */
  intermediate_size: number;
  /** h */
  num_heads: number;
  /** p */
  head_dim: number;
  /** g; divides h */
  n_groups: number;
  /** n */
  state_size: number;
  num_hidden_layers: number;
  /** k */
  conv_kernel: number;
  /** dt is clamped to [min, max] after the softplus (prefill and decode; see graph.ts). */
  time_step_limit: [number, number];
  /**
   * Groups of the gated RMSNorm before out_proj: n_groups in mamba_ssm (`RMSNormGated` with
   * group_size e / g), the default; 1 normalises over all of d_inner as transformers'
   * `MambaRMSNormGated` does. config.json may set `norm_groups` to pick transformers' behaviour.
   */
  norm_groups: number;
  /** SSD chunk length of the chunked prefill (`scan: "parallel"`). */
  chunk_size: number;
  use_bias: boolean;
  use_conv_bias: boolean;
  tie_word_embeddings: boolean;
  layer_norm_epsilon: number;
  residual_in_fp32: boolean;
  /** v */
  vocab_size: number;
  eos_token_id: number;
  bos_token_id: number;
  pad_token_id: number;
}

/** Every dimension of the glossary, resolved. */
export interface Mamba2Dims {
  d: number;
  e: number;
  h: number;
  p: number;
  g: number;
  n: number;
  k: number;
  c: number;
  v: number;
}

/** The glossary's dimensions of a config. */
export function mamba2Dims(cfg: Mamba2Config): Mamba2Dims {
  const e = cfg.intermediate_size, g = cfg.n_groups, n = cfg.state_size;
  return {
    d: cfg.hidden_size,
    e,
    h: cfg.num_heads,
    p: cfg.head_dim,
    g,
    n,
    k: cfg.conv_kernel,
    c: e + 2 * g * n,
    v: cfg.vocab_size,
  };
}

/**
 * A number of a config: transformers 5 writes infinities as `{"__float__": "Infinity"}`, older
 * versions as Python's bare `Infinity` (read back as the string "Infinity": parsePythonJson).
 */
function num(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  const s = v && typeof v === "object" && !Array.isArray(v)
    ? (v as Record<string, unknown>).__float__
    : v;
  if (s === "Infinity" || s === "inf") return Infinity;
  if (s === "-Infinity" || s === "-inf") return -Infinity;
  return undefined;
}

/**
 * Validates a parsed Mamba-2 `config.json` (`file` names it in errors) and resolves derived fields.
 *
 * @example
 * ```ts
 * const cfg = parseMamba2Config({ model_type: "mamba2", hidden_size: 64, num_heads: 2, head_dim: 64 }, "config.json");
 * cfg.intermediate_size; // 128
 * ```
 */
export function parseMamba2Config(c: Record<string, unknown>, file: string): Mamba2Config {
  const show = (v: unknown) => (v === undefined ? "nothing" : JSON.stringify(v));
  const int = (key: string, dflt?: number, min = 1): number => {
    const v = c[key] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      throw new KitError(`${file}: field '${key}' must be an integer ≥ ${min}, got ${show(v)}`);
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
  if (typeof expand !== "number" || !(expand > 0)) {
    throw new KitError(`${file}: field 'expand' must be a positive number, got ${show(expand)}`);
  }
  const e = Math.trunc(expand * hidden);
  const heads = int("num_heads", 128), headDim = int("head_dim", 64);
  if (heads * headDim !== e) {
    throw new KitError(
      `${file}: num_heads × head_dim = ${heads} × ${headDim} = ${heads * headDim} must equal ` +
        `d_inner = expand × hidden_size = ${expand} × ${hidden} = ${e}`,
    );
  }
  const groups = int("n_groups", 8);
  if (heads % groups !== 0) {
    throw new KitError(`${file}: n_groups (${groups}) must divide num_heads (${heads})`);
  }
  const normGroups = int("norm_groups", groups);
  if (normGroups !== groups && normGroups !== 1) {
    throw new KitError(
      `${file}: field 'norm_groups' must be n_groups (${groups}, mamba_ssm) or 1 (transformers), ` +
        `got ${normGroups}`,
    );
  }
  const limRaw = c.time_step_limit ?? [0, Infinity];
  const lim = Array.isArray(limRaw) ? limRaw.map(num) : [];
  if (
    lim.length !== 2 || lim.some((x) => x === undefined || Number.isNaN(x)) || lim[0]! > lim[1]!
  ) {
    throw new KitError(
      `${file}: field 'time_step_limit' must be [min, max] with min ≤ max, got ${show(limRaw)}`,
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
  if (c.rms_norm === false) {
    throw new KitError(
      `${file}: field 'rms_norm' is false; Mamba-2 without the gated RMSNorm is not supported`,
    );
  }
  const conv = int("conv_kernel", 4, 2);
  const idOr = (key: string) => (typeof c[key] === "number" ? c[key] as number : 0);
  return {
    model_type: "mamba2",
    hidden_size: hidden,
    intermediate_size: e,
    num_heads: heads,
    head_dim: headDim,
    n_groups: groups,
    state_size: int("state_size", 128),
    num_hidden_layers: int("num_hidden_layers", 64),
    conv_kernel: conv,
    time_step_limit: [lim[0]!, lim[1]!],
    norm_groups: normGroups,
    chunk_size: int("chunk_size", 256),
    use_bias: bool("use_bias", false),
    use_conv_bias: bool("use_conv_bias", true),
    tie_word_embeddings: bool("tie_word_embeddings", false),
    layer_norm_epsilon: eps,
    residual_in_fp32: bool("residual_in_fp32", true),
    vocab_size: int("vocab_size", 32768),
    eos_token_id: idOr("eos_token_id"),
    bos_token_id: idOr("bos_token_id"),
    pad_token_id: idOr("pad_token_id"),
  };
}
