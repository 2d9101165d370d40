/**
 * What every architecture's graph builder shares: where weights come from, the graph options,
 * and the hooks through which observation and quantization change a graph as it is built.
 */
import type { Graph } from "./builder.ts";

/** Where the graph builder reads a weight from (a checkpoint, or synthetic weights). */
export interface WeightSource {
  read(name: string): Promise<Float32Array>;
}

export interface GraphOptions {
  /** Storage type of the weights. */
  weights: "float32" | "float16";
  /**
   * Type of the big projections (Mamba's in_proj, x_proj, out_proj; attention's and the MLPs'
   * projections; the lm_head); the conv, dt_proj, the scan, the norms, attention's softmax, the
   * router and the residual stream (with `residual_in_fp32`) run in float32.
   */
  compute: "float32" | "float16";
  /**
   * The prefill's selective scan: `sequential` (an ONNX Scan over time; default, the fastest on
   * the CPU EP) or `parallel` (log2 doubling steps over whole [b, l, e, n] tensors, for GPU EPs,
   * where a Scan pays a fixed cost per step; handles at most PARALLEL_SCAN_MAX tokens a run), or
   * `fused` (onnxruntime's CausalConvWithState and LinearAttention contrib operators in prefill
   * and decode: fewer kernels; lib/onnx/fused_mixer.ts).
   */
  scan?: "sequential" | "parallel" | "fused";
}

/** Activations of a Mamba mixer a recipe can observe or quantize (lib/stats/schema.ts). */
export type MixerActName =
  | "in_proj.input"
  | "x"
  | "z"
  | "u"
  | "x_proj.input"
  | "dt_low"
  | "B"
  | "C"
  | "dt"
  | "y_ssm"
  | "y"
  /** Mamba-2: in_proj's x ‖ B ‖ C before the conv [e + 2 g n]. */
  | "xBC"
  /** Mamba-2: the SSM state a graph returns, [b, h, p, n] (channels = n). */
  | "ssm_state"
  /** Mamba-2: the final norm's output, the lm_head input [d] (layer = num_hidden_layers). */
  | "lm_head.input";

/**
 * Activations of Jamba's other blocks: the attention input (q/k/v_proj's), the o_proj input,
 * the feed-forward input (router's, gate_proj's and up_proj's, of every expert), and the
 * down_proj input of the dense MLP or of expert j (non-routed tokens zeroed, so that its
 * statistics describe the tokens the expert serves).
 */
export type BlockActName =
  | "attn.input"
  | "o_proj.input"
  | "ffn.input"
  | "down_proj.input"
  | `experts.${number}.down_proj.input`;

/** Activations a recipe can observe or quantize. */
export type ActName = MixerActName | BlockActName;

/** Hooks into the graph being built. */
export interface GraphHooks {
  /**
   * Called with each activation of layer `layer` (a value of the graph, last axis `channels`);
   * returns the value the rest of the graph uses (the same one to only observe it).
   * `x_proj.input` is the SSM input `u` on its way to x_proj (the raw u, before the `u` hook),
   * so that the projection can get a Q/DQ pair of its own.
   */
  act?(g: Graph, layer: number, name: ActName, value: string, channels: number): string;
  /** Replaces a checkpoint parameter (same layout and float type); undefined keeps it. */
  param?(g: Graph, name: string, dims: number[]): string | undefined;
  /** Replaces a projection's weight as MatMul's B input, [in, out]; undefined keeps it. */
  matmulWeight?(g: Graph, prefix: string, out: number, inp: number): string | undefined;
  /**
   * Replaces the B input [in, Σ outs] of projections of one input computed as one MatMul (their
   * weights side by side: q/k/v_proj, gate/up_proj, a router with its experts' gate/up_proj);
   * undefined keeps the weights (concatenated in the graph, folded by onnxruntime at load).
   */
  matmulWeightGroup?(g: Graph, prefixes: string[], outs: number[], inp: number): string | undefined;
  /** Replaces a whole projection `x @ W^T` (before its bias); undefined keeps the MatMul. */
  linear?(g: Graph, x: string, prefix: string, out: number, inp: number): string | undefined;
}
