/**
 * Mamba-1 (`model_type: "mamba"`, MambaForCausalLM) in the architecture registry: its config
 * (config.ts), expected tensors (tensors.ts), graph builder (graph.ts, whose mixer builder Jamba's
 * mixers share) and float64 reference (reference.ts), gathered for the registry.
 *
 * @example
 * ```ts
 * import { MAMBA } from "./lib/arch/mamba/mod.ts";
 * const cfg = MAMBA.parseConfig({ model_type: "mamba", hidden_size: 64 }, "config.json");
 * ```
 * @module
 */
import { type MambaConfig, parseConfig } from "./config.ts";
import { buildDecode, buildPrefill, mambaMixerSpec } from "./graph.ts";
import { ReferenceMamba } from "./reference.ts";
import type { Architecture, StateTensorSpec } from "../types.ts";
import { expectedTensors } from "./tensors.ts";

export { expectedTensors } from "./tensors.ts";
export type { MambaConfig } from "./config.ts";
export { buildDecode, buildPrefill } from "./graph.ts";
export { ReferenceMamba } from "./reference.ts";

/** Per layer: conv window [b, e, k-1] and SSM state [b, e, n]. */
function stateLayout(cfg: MambaConfig): StateTensorSpec[] {
  const { intermediate_size: e, state_size: n, conv_kernel: k } = cfg;
  return Array.from({ length: cfg.num_hidden_layers }, (_, i): StateTensorSpec[] => [
    { name: `conv.${i}`, kind: "conv", layer: i, dims: (b) => [b, e, k - 1], grows: false },
    { name: `ssm.${i}`, kind: "ssm", layer: i, dims: (b) => [b, e, n], grows: false },
  ]).flat();
}

/** Mamba-1. */
export const MAMBA: Architecture<MambaConfig> = {
  modelType: "mamba",
  label: "Mamba-1",
  parseConfig,
  expectedTensors,
  tensorView: (store) => store,
  checkTensors: () => {},
  shapeFields: () => "",
  lmHead: (cfg) => (cfg.tie_word_embeddings ? "backbone.embeddings.weight" : "lm_head.weight"),
  stateLayout,
  mixers: (cfg) => Array.from({ length: cfg.num_hidden_layers }, (_, i) => mambaMixerSpec(cfg, i)),
  quambaPercentile: 99.999,
  buildPrefill,
  buildDecode,
  async reference(cfg, src, hooks) {
    const w = new Map<string, Float32Array>();
    for (const name of expectedTensors(cfg).keys()) w.set(name, await src.read(name));
    if (cfg.tie_word_embeddings) w.set("lm_head.weight", w.get("backbone.embeddings.weight")!);
    return new ReferenceMamba(cfg, w, hooks);
  },
};
