/**
 * Jamba (`model_type: "jamba"`, JambaForCausalLM): hybrid attention–Mamba–MoE checkpoints in
 * the architecture registry (config, tensors, graphs, state layout, float64 reference).
 *
 * @example
 * ```ts
 * import { loadModel } from "./mod.ts";
 * const model = await loadModel("tests/fixtures/jamba_tiny"); // a Jamba folder loads as any other
 * ```
 * @module
 */
import type { Architecture, StateTensorSpec } from "../types.ts";
import { type JambaConfig, jambaDims, jambaLayers, parseJambaConfig } from "./config.ts";
import { buildJambaDecode, buildJambaPrefill, jambaMixerSpec } from "./graph.ts";
import { ReferenceJamba } from "./reference.ts";
import {
  checkJambaLayers,
  expectedJambaTensors,
  jambaShapeFields,
  jambaTensorView,
} from "./tensors.ts";

export * from "./config.ts";
export * from "./graph.ts";
export * from "./reference.ts";
export * from "./tensors.ts";

/**
 * Mamba layers: conv window [b, e, k-1] and SSM state [b, e, n]; attention layers: keys and
 * values of the t tokens seen, [b, G, t, hd], growing by one per token.
 */
export function jambaStateLayout(cfg: JambaConfig): StateTensorSpec[] {
  const { e, n, k, G, hd } = jambaDims(cfg);
  return jambaLayers(cfg).flatMap((l, i): StateTensorSpec[] =>
    l.mixer === "mamba"
      ? [
        { name: `conv.${i}`, kind: "conv", layer: i, dims: (b) => [b, e, k - 1], grows: false },
        { name: `ssm.${i}`, kind: "ssm", layer: i, dims: (b) => [b, e, n], grows: false },
      ]
      : [
        { name: `key.${i}`, kind: "key", layer: i, dims: (b, t) => [b, G, t, hd], grows: true },
        { name: `value.${i}`, kind: "value", layer: i, dims: (b, t) => [b, G, t, hd], grows: true },
      ]
  );
}

/** Jamba. */
export const JAMBA: Architecture<JambaConfig> = {
  modelType: "jamba",
  label: "Jamba",
  parseConfig: parseJambaConfig,
  expectedTensors: expectedJambaTensors,
  tensorView: jambaTensorView,
  checkTensors: checkJambaLayers,
  shapeFields: jambaShapeFields,
  lmHead: (cfg) => (cfg.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight"),
  stateLayout: jambaStateLayout,
  mixers: (cfg) =>
    jambaLayers(cfg).flatMap((l, i) => (l.mixer === "mamba" ? [jambaMixerSpec(cfg, i)] : [])),
  quambaPercentile: 99.9,
  buildPrefill: buildJambaPrefill,
  buildDecode: buildJambaDecode,
  reference: (cfg, src, hooks) => ReferenceJamba.fromSource(cfg, src, hooks),
};
