/**
 * Mamba-1's tensors: name and shape of every parameter a checkpoint must hold, in checkpoint
 * naming (re-exported by lib/checkpoint.ts, where it lived before the registry).
 * Dimensions: lib/arch/mamba/config.ts.
 */
import type { MambaConfig } from "./config.ts";

/**
 * Name and shape of every parameter a Mamba-1 checkpoint must hold, in checkpoint naming.
 *
 * @example
 * ```ts
 * expectedTensors(cfg).get("backbone.layers.0.mixer.in_proj.weight"); // [2e, d]
 * ```
 */
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
