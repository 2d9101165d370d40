/**
 * Mamba-2's tensors: name and shape of every parameter a `Mamba2ForCausalLM` checkpoint holds,
 * in checkpoint naming. Dimensions: lib/arch/mamba2/config.ts.
 */
import { type Mamba2Config, mamba2Dims } from "./config.ts";

/**
 * Name and shape of every parameter a Mamba-2 checkpoint must hold.
 *
 * @example
 * ```ts
 * expectedMamba2Tensors(cfg).get("backbone.layers.0.mixer.in_proj.weight"); // [2e + 2gn + h, d]
 * ```
 */
export function expectedMamba2Tensors(cfg: Mamba2Config): Map<string, number[]> {
  const { d, e, h, g, n, k, c, v } = mamba2Dims(cfg);
  const m = new Map<string, number[]>();
  m.set("backbone.embeddings.weight", [v, d]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `backbone.layers.${i}`;
    m.set(`${p}.norm.weight`, [d]);
    m.set(`${p}.mixer.in_proj.weight`, [2 * e + 2 * g * n + h, d]);
    if (cfg.use_bias) m.set(`${p}.mixer.in_proj.bias`, [2 * e + 2 * g * n + h]);
    m.set(`${p}.mixer.conv1d.weight`, [c, 1, k]);
    if (cfg.use_conv_bias) m.set(`${p}.mixer.conv1d.bias`, [c]);
    m.set(`${p}.mixer.dt_bias`, [h]);
    m.set(`${p}.mixer.A_log`, [h]);
    m.set(`${p}.mixer.D`, [h]);
    m.set(`${p}.mixer.norm.weight`, [e]);
    m.set(`${p}.mixer.out_proj.weight`, [d, e]);
    if (cfg.use_bias) m.set(`${p}.mixer.out_proj.bias`, [d]);
  }
  m.set("backbone.norm_f.weight", [d]);
  if (!cfg.tie_word_embeddings) m.set("lm_head.weight", [v, d]);
  return m;
}

/** The config fields that set a Mamba-2 tensor's shape, for error messages. */
export function mamba2ShapeFields(name: string): string {
  if (name.endsWith("in_proj.weight") || name.endsWith("in_proj.bias")) {
    return "hidden_size, expand, n_groups, state_size, num_heads";
  }
  if (name.includes("conv1d")) return "expand, hidden_size, n_groups, state_size, conv_kernel";
  if (/\.(dt_bias|A_log|D)$/.test(name)) return "num_heads";
  if (name.endsWith("mixer.norm.weight")) return "expand, hidden_size";
  return "";
}
