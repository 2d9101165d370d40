/**
 * The fields of a Hugging Face Jamba `config.json` that change the math, validated and resolved
 * (names as in transformers' `JambaConfig`), and the layer plan they imply.
 *
 * Glossary of dimensions (as lib/arch/mamba/config.ts's for Mamba, plus attention and the MLPs):
 *   b  batch size                     l  tokens of this run       t  tokens seen before it
 *   d  hidden_size                    v  vocab_size
 *   e  mamba_expand * d (the mixers' d_inner)
 *   n  mamba_d_state                  r  mamba_dt_rank           k  mamba_d_conv
 *   H  num_attention_heads            G  num_key_value_heads     hd d / H (head_dim)
 *   f  intermediate_size (the dense MLPs' and each expert's hidden size)
 *   E  num_experts                    K  num_experts_per_tok (top-K routing)
 *
 * Layer i is attention iff i % attn_layer_period == attn_layer_offset (else a Mamba mixer) and
 * has a mixture of E experts iff i % expert_layer_period == expert_layer_offset and E > 1 (else
 * a dense MLP).
 */
import { KitError } from "../../errors.ts";

/** A resolved Jamba configuration. */
export interface JambaConfig {
  model_type: "jamba";
  /** d */
  hidden_size: number;
  /** f: hidden size of the dense MLPs and of each expert (not the mixers' e). */
  intermediate_size: number;
  num_hidden_layers: number;
  /** H */
  num_attention_heads: number;
  /** G; divides H */
  num_key_value_heads: number;
  attn_layer_period: number;
  attn_layer_offset: number;
  expert_layer_period: number;
  expert_layer_offset: number;
  /** E */
  num_experts: number;
  /** K */
  num_experts_per_tok: number;
  /** n */
  mamba_d_state: number;
  /** k */
  mamba_d_conv: number;
  /** e / d */
  mamba_expand: number;
  /** r, resolved from "auto" to ceil(d / 16) */
  mamba_dt_rank: number;
  mamba_conv_bias: boolean;
  mamba_proj_bias: boolean;
  rms_norm_eps: number;
  tie_word_embeddings: boolean;
  /** v */
  vocab_size: number;
  eos_token_id: number;
  bos_token_id: number;
  pad_token_id: number;
}

/** What each layer holds. */
export interface JambaLayer {
  mixer: "attention" | "mamba";
  /** Experts of the feed-forward block (1: a dense MLP). */
  experts: number;
}

/** Every dimension of the glossary, resolved. */
export interface JambaDims {
  d: number;
  v: number;
  e: number;
  n: number;
  r: number;
  k: number;
  H: number;
  G: number;
  hd: number;
  f: number;
  E: number;
  K: number;
}

/**
 * The layer plan: attention or Mamba, experts or dense MLP, as transformers'
 * `layers_block_type` and `layers_num_experts`.
 *
 * @example
 * ```ts
 * jambaLayers(cfg).map((l) => l.mixer); // ["mamba", "attention", "mamba", ...]
 * ```
 */
export function jambaLayers(cfg: JambaConfig): JambaLayer[] {
  return Array.from({ length: cfg.num_hidden_layers }, (_, i) => ({
    mixer: i % cfg.attn_layer_period === cfg.attn_layer_offset ? "attention" : "mamba",
    experts: i % cfg.expert_layer_period === cfg.expert_layer_offset ? cfg.num_experts : 1,
  }));
}

/**
 * The dimensions of the glossary.
 *
 * @example
 * ```ts
 * const { e, hd } = jambaDims(cfg); // mixer width, head size
 * ```
 */
export function jambaDims(cfg: JambaConfig): JambaDims {
  return {
    d: cfg.hidden_size,
    v: cfg.vocab_size,
    e: cfg.mamba_expand * cfg.hidden_size,
    n: cfg.mamba_d_state,
    r: cfg.mamba_dt_rank,
    k: cfg.mamba_d_conv,
    H: cfg.num_attention_heads,
    G: cfg.num_key_value_heads,
    hd: cfg.hidden_size / cfg.num_attention_heads,
    f: cfg.intermediate_size,
    E: cfg.num_experts,
    K: cfg.num_experts_per_tok,
  };
}

/**
 * Validates a parsed Jamba `config.json` (`file` names it in errors) and resolves derived
 * fields; defaults are transformers' `JambaConfig` defaults.
 *
 * @example
 * ```ts
 * const cfg = parseJambaConfig({ model_type: "jamba", hidden_size: 64, num_attention_heads: 4,
 *   num_key_value_heads: 2, num_hidden_layers: 4, vocab_size: 100 }, "config.json");
 * cfg.mamba_dt_rank; // 4
 * ```
 */
export function parseJambaConfig(raw: Record<string, unknown>, file: string): JambaConfig {
  const c = raw;
  if (c.model_type !== "jamba") {
    throw new KitError(`${file}: model_type '${c.model_type}' is not 'jamba'`);
  }
  const int = (key: string, dflt: number, min = 1): number => {
    const v = c[key] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      throw new KitError(
        `${file}: field '${key}' must be an integer >= ${min}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = c[key] ?? dflt;
    if (typeof v !== "boolean") {
      throw new KitError(`${file}: field '${key}' must be true or false, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const act = c.hidden_act ?? "silu";
  if (act !== "silu" && act !== "swish") {
    throw new KitError(`${file}: field 'hidden_act' is '${act}'; only 'silu' is supported`);
  }
  const d = int("hidden_size", 4096);
  const H = int("num_attention_heads", 32);
  const G = c.num_key_value_heads === null ? H : int("num_key_value_heads", 8);
  if (d % H !== 0) {
    throw new KitError(
      `${file}: field 'hidden_size' (${d}) must be a multiple of 'num_attention_heads' (${H}): ` +
        `each head has hidden_size / num_attention_heads channels`,
    );
  }
  if (H % G !== 0) {
    throw new KitError(
      `${file}: field 'num_key_value_heads' (${G}) must divide 'num_attention_heads' (${H}): ` +
        `each key/value head serves num_attention_heads / num_key_value_heads query heads`,
    );
  }
  const period = (what: string) => {
    const p = int(`${what}_layer_period`, what === "attn" ? 8 : 2);
    const o = int(`${what}_layer_offset`, what === "attn" ? 4 : 1, 0);
    if (o >= p) {
      throw new KitError(
        `${file}: field '${what}_layer_offset' (${o}) must be smaller than ` +
          `'${what}_layer_period' (${p})`,
      );
    }
    return [p, o];
  };
  const [ap, ao] = period("attn");
  const [ep, eo] = period("expert");
  const E = int("num_experts", 16);
  const K = int("num_experts_per_tok", 2);
  if (E > 1 && K > E) {
    throw new KitError(
      `${file}: field 'num_experts_per_tok' (${K}) must be at most 'num_experts' (${E})`,
    );
  }
  const expand = c.mamba_expand ?? 2;
  if (typeof expand !== "number" || !(expand > 0) || !Number.isInteger(expand * d)) {
    throw new KitError(
      `${file}: field 'mamba_expand' must be a positive number with mamba_expand * hidden_size ` +
        `an integer, got ${JSON.stringify(expand)}`,
    );
  }
  let rank = c.mamba_dt_rank ?? "auto";
  if (rank === "auto") rank = Math.ceil(d / 16);
  if (typeof rank !== "number" || !Number.isInteger(rank) || rank <= 0) {
    throw new KitError(
      `${file}: field 'mamba_dt_rank' must be a positive integer or "auto", got ${
        JSON.stringify(rank)
      }`,
    );
  }
  const eps = c.rms_norm_eps ?? 1e-6;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new KitError(
      `${file}: field 'rms_norm_eps' must be positive, got ${JSON.stringify(eps)}`,
    );
  }
  const conv = int("mamba_d_conv", 4);
  if (conv < 2) throw new KitError(`${file}: field 'mamba_d_conv' must be at least 2, got ${conv}`);
  const idOr = (
    key: string,
    dflt: number,
  ) => (typeof c[key] === "number" ? c[key] as number : dflt);
  return {
    model_type: "jamba",
    hidden_size: d,
    intermediate_size: int("intermediate_size", 14336),
    num_hidden_layers: int("num_hidden_layers", 32),
    num_attention_heads: H,
    num_key_value_heads: G,
    attn_layer_period: ap,
    attn_layer_offset: ao,
    expert_layer_period: ep,
    expert_layer_offset: eo,
    num_experts: E,
    num_experts_per_tok: K,
    mamba_d_state: int("mamba_d_state", 16),
    mamba_d_conv: conv,
    mamba_expand: expand,
    mamba_dt_rank: rank,
    mamba_conv_bias: bool("mamba_conv_bias", true),
    mamba_proj_bias: bool("mamba_proj_bias", false),
    rms_norm_eps: eps,
    tie_word_embeddings: bool("tie_word_embeddings", false),
    vocab_size: int("vocab_size", 65536),
    eos_token_id: idOr("eos_token_id", 2),
    bos_token_id: idOr("bos_token_id", 1),
    pad_token_id: idOr("pad_token_id", 0),
  };
}
