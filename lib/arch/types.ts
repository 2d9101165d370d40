/**
 * What an architecture provides to the rest of the kit (lib/arch/registry.ts): config parsing,
 * expected tensors, graph builders, the state layout and a float64 reference. Loading,
 * quantized folders, statistics, evaluation and the runtime go through it and never ask which
 * architecture they carry.
 */
import type { MambaConfig } from "./mamba/config.ts";
import type { Graph } from "../onnx/builder.ts";
import type { ActName, GraphHooks, GraphOptions, WeightSource } from "../onnx/hooks.ts";
import type { MixerSpec } from "./mamba/graph.ts";
import type { TensorInfo } from "../safetensors.ts";
import type { JambaConfig } from "./jamba/config.ts";
import type { Mamba2Config } from "./mamba2/config.ts";

/** A resolved config of any architecture the kit builds (`model_type` tells which). */
export type ModelConfig = MambaConfig | JambaConfig | Mamba2Config;

/** Tensors by name: a checkpoint's files, or a view of them under other names. */
export interface TensorView extends WeightSource {
  names(): string[];
  info(name: string): TensorInfo;
}

/**
 * One tensor of a model's state between runs: fed as `past_<name>`, returned as
 * `present_<name>`, float32.
 */
export interface StateTensorSpec {
  /** `conv.{i}`, `ssm.{i}` (Mamba mixers), `key.{i}`, `value.{i}` (attention layers). */
  name: string;
  kind: "conv" | "ssm" | "key" | "value";
  layer: number;
  /** Its dims for `batch` sequences that have seen `seen` tokens. */
  dims(batch: number, seen: number): number[];
  /** Grows by one along axis 2 with every token (attention's key and value caches). */
  grows: boolean;
}

/**
 * Hooks of a float64 reference: each activation of one position (names of lib/onnx/hooks.ts),
 * and (hybrid models) each attention, router, expert and MLP projection `W x` (W [out, in] by its
 * checkpoint name; undefined keeps the plain product), for emulating other int8 schemes.
 */
export interface ReferenceHooks {
  act?(layer: number, name: ActName, v: Float64Array): Float64Array;
  linear?(name: string, W: Float32Array, x: Float64Array, out: number): Float64Array | undefined;
}

/** A float64 model that runs one token at a time (tests compare the graphs with it). */
export interface ReferenceModel<S = unknown> {
  initialState(): S;
  /** Logits [ids.length, v] and the state after the last token (`state` updated in place). */
  forward(ids: number[], state?: S): { logits: Float32Array; state: S };
  /** One token: logits [v]. */
  step(id: number, state: S): Float32Array;
}

/** An architecture: everything the kit needs to load, build and check one `model_type`. */
export interface Architecture<C extends ModelConfig = ModelConfig> {
  /** `model_type` in config.json. */
  modelType: C["model_type"];
  /** For messages, e.g. "Mamba-1". */
  label: string;
  /** Validates a parsed config.json (`file` names it in errors) and resolves derived fields. */
  parseConfig(raw: Record<string, unknown>, file: string): C;
  /** Name and shape of every parameter the config needs, in checkpoint naming. */
  expectedTensors(config: C): Map<string, number[]>;
  /** The checkpoint's tensors under the names expectedTensors uses (other layouts mapped). */
  tensorView(store: TensorView): TensorView;
  /** Named errors for tensors that disagree with the config beyond a shape (layer kinds, counts). */
  checkTensors(config: C, view: TensorView, configFile: string): void;
  /** The config fields that set a tensor's shape, for error messages. */
  shapeFields(name: string): string;
  /** The tensor of the output projection (the embedding when tied). */
  lmHead(config: C): string;
  /** The state tensors between runs. */
  stateLayout(config: C): StateTensorSpec[];
  /** Its Mamba-1 mixers (every layer of Mamba, the Mamba layers of Jamba). */
  mixers(config: C): MixerSpec[];
  /**
   * Quamba's percentile of |u| for the SSM input's scale: the authors' calibration used 99.999
   * for Mamba and 99.9 for Jamba (enyac-group/Quamba, quamba/real_quant/modelutils_mamba.py,
   * `run_calibration`: `percentile_alpha` 0.99999 and 0.999).
   */
  quambaPercentile: number;
  /** The prefill graph: input_ids [b, l], past states -> logits [b, l, v], present states. */
  buildPrefill(config: C, src: WeightSource, opt: GraphOptions, hooks?: GraphHooks): Graph;
  /** The decode graph: input_ids [b], past states -> logits [b, v], present states. */
  buildDecode(config: C, src: WeightSource, opt: GraphOptions, hooks?: GraphHooks): Graph;
  /**
   * The prefill's scan when none is asked for; default: sequential on the CPU EP (an ONNX Scan
   * over time), parallel on GPU EPs.
   */
  defaultScan?(ep: string): "sequential" | "parallel" | "fused";
  /** The longest prefill one run of graphs built with `opt` takes; default: the parallel scan's
   * PARALLEL_SCAN_MAX with `scan: "parallel"`, else unbounded. */
  maxPrefill?(opt: GraphOptions): number;
  /** The float64 reference over weights read from `src`; `hooks` see (and may change) activations. */
  reference(config: C, src: WeightSource, hooks?: ReferenceHooks): Promise<ReferenceModel>;
}
