/**
 * Mamba-2 (`model_type: "mamba2"`, Mamba2ForCausalLM) in the architecture registry: its config
 * (config.ts), expected tensors (tensors.ts), graph builders (graph.ts, with SSD's chunked form
 * in ssd.ts) and float64 reference (reference.ts).
 *
 * @example
 * ```ts
 * import { loadModel } from "./mod.ts";
 * const model = await loadModel("tests/fixtures/mamba2_tiny"); // a Mamba-2 folder loads as any other
 * ```
 * @module
 */
import type { Architecture, StateTensorSpec } from "../types.ts";
import { type Mamba2Config, mamba2Dims, parseMamba2Config } from "./config.ts";
import { buildMamba2Decode, buildMamba2Prefill } from "./graph.ts";
import { ReferenceMamba2 } from "./reference.ts";
import { expectedMamba2Tensors, mamba2ShapeFields } from "./tensors.ts";

export * from "./config.ts";
export * from "./graph.ts";
export * from "./reference.ts";
export * from "./tensors.ts";

/** Per layer: conv window [b, c, k-1] over x ‖ B ‖ C and SSM state [b, h, p, n]. */
export function mamba2StateLayout(cfg: Mamba2Config): StateTensorSpec[] {
  const { c, k, h, p, n } = mamba2Dims(cfg);
  return Array.from({ length: cfg.num_hidden_layers }, (_, i): StateTensorSpec[] => [
    { name: `conv.${i}`, kind: "conv", layer: i, dims: (b) => [b, c, k - 1], grows: false },
    { name: `ssm.${i}`, kind: "ssm", layer: i, dims: (b) => [b, h, p, n], grows: false },
  ]).flat();
}

/** Mamba-2. */
export const MAMBA2: Architecture<Mamba2Config> = {
  modelType: "mamba2",
  label: "Mamba-2",
  parseConfig: parseMamba2Config,
  expectedTensors: expectedMamba2Tensors,
  tensorView: (store) => store,
  checkTensors: () => {},
  shapeFields: mamba2ShapeFields,
  lmHead: (cfg) => (cfg.tie_word_embeddings ? "backbone.embeddings.weight" : "lm_head.weight"),
  stateLayout: mamba2StateLayout,
  // Quamba's Mamba-1 recipe has no Mamba-2 mixers to act on
  mixers: () => [],
  quambaPercentile: 99.999,
  // measured: on the CPU EP (2 cores, mamba2-130m, 512 tokens) SSD's chunked form, TTFT 956 ms
  // against 3459 ms for the Scan over time (LinearAttention: TTFT 792 vs 850 ms but TPOT 40.7 vs
  // 33.8 ms, TTLT of 32 tokens 2.05 vs 1.90 s); on the H200's CUDA EP onnxruntime's LinearAttention,
  // mamba2-1.3b TTFT 53 ms and TPOT 4.68 ms against 120 ms and 6.23 ms for the chunked form
  // (docs/latency/h200_cuda_mamba2/); each takes any length in one run
  defaultScan: (ep) => (ep === "cpu" ? "parallel" : "fused"),
  maxPrefill: () => Infinity,
  buildPrefill: buildMamba2Prefill,
  buildDecode: buildMamba2Decode,
  reference: (cfg, src, hooks) => ReferenceMamba2.fromSource(cfg, src, hooks),
};
