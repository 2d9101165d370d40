/**
 * Offline weight transforms of the recipes, exact in real arithmetic (the float model computes
 * the same function before quantization):
 *
 * - Hadamard on the out_proj input (Quamba): y' = H_e y online, out_proj W' = W H_eᵀ.
 * - SmoothQuant-SSM (α = 0.5): at a projection with input X [.., c] and weight W [out, c],
 *   s_c = sqrt(amax(X_c) / amax(W_:,c)); X' = X / s (folded into the norm weight for in_proj,
 *   into x_proj's dt rows for dt_proj, an explicit Mul for x_proj and out_proj), W' = W diag(s).
 * - QuaRot: the residual stream rotated, h' = H_d h. RMSNorm weights fold into the following
 *   projections (norm weights become 1), embedding E' = E H_dᵀ (rows rotated), in_proj
 *   W' = W diag(g) H_dᵀ, out_proj W' = H_d W, lm_head W' = W diag(g_f) H_dᵀ (untied from E).
 */
import { archOfConfig, type ModelConfig } from "../arch/registry.ts";
import { asMambaConfig } from "../arch/mamba/config.ts";
import { hadamardRows } from "../hadamard.ts";
import type { WeightSource } from "../arch/mamba/graph.ts";
import type { StatsView } from "../stats/view.ts";
import type { MethodSpec } from "./methods.ts";

/** A weight source with some tensors replaced by computed ones. */
export class OverriddenWeights implements WeightSource {
  private readonly overrides = new Map<string, () => Promise<Float32Array>>();
  constructor(private readonly base: WeightSource) {}

  /** Replaces `name` by `f` of its current value (transforms compose in call order). */
  map(name: string, f: (x: Float32Array) => Float32Array | Promise<Float32Array>): void {
    const prev = this.overrides.get(name) ?? (() => this.base.read(name));
    this.overrides.set(name, async () => await f(await prev()));
  }

  /** Adds or replaces `name` outright. */
  set(name: string, make: () => Promise<Float32Array>): void {
    this.overrides.set(name, make);
  }

  read(name: string): Promise<Float32Array> {
    return this.overrides.get(name)?.() ?? this.base.read(name);
  }
}

/** Per-layer inverse smoothing factors 1/s applied by explicit Muls before quantization. */
export interface Smoothing {
  /** 1/s at x_proj's input (the SSM input u), [e] per layer */
  xProjInput: Float32Array[];
  /** 1/s at out_proj's input y, [e] per layer */
  outProjInput: Float32Array[];
  /** s per layer and projection input, for the record */
  factors: Record<string, Float32Array>[];
}

/** Result of transforming a model for a method. */
export interface Transformed<C extends ModelConfig = ModelConfig> {
  /** The config of the transformed model (the same, or untied by QuaRot). */
  config: C;
  src: WeightSource;
  smoothing?: Smoothing;
}

/** Scales every column c of W [rows, cols] by s[c] (W diag(s)). */
function scaleColumns(W: Float32Array, s: Float32Array): Float32Array {
  const cols = s.length, out = new Float32Array(W.length);
  for (let i = 0; i < W.length; i++) out[i] = W[i] * s[i % cols];
  return out;
}

/** Transposes a row-major [rows, cols] matrix. */
function transpose(W: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(W.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = W[r * cols + c];
  return out;
}

/** H W for W [rows, cols]: the Hadamard of size `rows` applied to every column. */
function hadamardColumns(W: Float32Array, rows: number, cols: number): Float32Array {
  return transpose(hadamardRows(transpose(W, rows, cols), rows), cols, rows);
}

/** SmoothQuant's factors s_c = sqrt(amax_act_c / amax_w_c), 1 where either is 0. */
export function smoothFactors(actAmax: Float32Array, W: Float32Array, alpha = 0.5): Float32Array {
  const C = actAmax.length, wmax = new Float32Array(C);
  for (let i = 0; i < W.length; i++) wmax[i % C] = Math.max(wmax[i % C], Math.abs(W[i]));
  return actAmax.map((a, c) => {
    if (!(a > 0) || !(wmax[c] > 0)) return 1;
    return Math.min(1e4, Math.max(1e-4, a ** alpha / wmax[c] ** (1 - alpha)));
  });
}

/**
 * The transformed config and weights of a method. SmoothQuant needs the original model's
 * per-channel statistics (`stats`).
 *
 * @example
 * ```ts
 * const t = await transformWeights(ckpt.config, ckpt.store, methodSpec("quamba"));
 * ```
 */
export async function transformWeights<C extends ModelConfig>(
  modelConfig: C,
  base: WeightSource,
  spec: MethodSpec,
  stats?: StatsView,
): Promise<Transformed<C>> {
  const src = new OverriddenWeights(base);
  let cfg: C = modelConfig;
  let smoothing: Smoothing | undefined;
  const layer = (i: number) => `backbone.layers.${i}`;

  if (spec.hadamardY) {
    for (const m of archOfConfig(modelConfig).mixers(modelConfig)) {
      src.map(`${m.prefix}.out_proj.weight`, (W) => hadamardRows(W, m.e));
    }
  }
  if (!spec.smooth && !spec.rotateResidual) return { config: cfg, src };

  const config = asMambaConfig(modelConfig, spec.smooth ? "SmoothQuant-SSM" : "QuaRot");
  const { intermediate_size: e, time_step_rank: r } = config;
  const L = config.num_hidden_layers;
  if (spec.smooth) {
    if (!stats) throw new Error("smoothquant needs activation statistics");
    smoothing = { xProjInput: [], outProjInput: [], factors: [] };
    for (let i = 0; i < L; i++) {
      const p = `${layer(i)}.mixer`;
      const ch = (t: "in_proj.input" | "u" | "dt_low" | "y") => stats.get(i, t)!.channelAbsmax;
      const sIn = smoothFactors(ch("in_proj.input"), await base.read(`${p}.in_proj.weight`));
      const sX = smoothFactors(ch("u"), await base.read(`${p}.x_proj.weight`));
      const sDt = smoothFactors(ch("dt_low"), await base.read(`${p}.dt_proj.weight`));
      const sOut = smoothFactors(ch("y"), await base.read(`${p}.out_proj.weight`));
      src.map(`${layer(i)}.norm.weight`, (g) => g.map((v, c) => v / sIn[c]));
      src.map(`${p}.in_proj.weight`, (W) => scaleColumns(W, sIn));
      src.map(`${p}.x_proj.weight`, (W) => {
        const out = scaleColumns(W, sX);
        for (let c = 0; c < r; c++) for (let j = 0; j < e; j++) out[c * e + j] /= sDt[c]; // dt rows
        return out;
      });
      src.map(`${p}.dt_proj.weight`, (W) => scaleColumns(W, sDt));
      src.map(`${p}.out_proj.weight`, (W) => scaleColumns(W, sOut));
      smoothing.xProjInput.push(sX.map((v) => 1 / v));
      smoothing.outProjInput.push(sOut.map((v) => 1 / v));
      smoothing.factors.push({
        "in_proj.input": sIn,
        "x_proj.input": sX,
        "dt_proj.input": sDt,
        "out_proj.input": sOut,
      });
    }
  }

  if (spec.rotateResidual) {
    await rotateResidual(src, base, config);
    cfg = { ...config, tie_word_embeddings: false } as C;
  }
  return { config: cfg, src, smoothing };
}

/** The config fields the residual rotation reads (Mamba-1's and Mamba-2's alike). */
export interface ResidualShape {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  tie_word_embeddings: boolean;
  use_bias: boolean;
}

/**
 * Rotates the residual stream of a Mamba-1 or Mamba-2 checkpoint by H_d (QuaRot; Quamba2's
 * offline rotation): RMSNorm weights folded into in_proj and the lm_head and set to 1, then
 * embedding E' = E H_dᵀ, in_proj W' = W diag(g) H_dᵀ, out_proj W' = H_d W, lm_head
 * W' = W diag(g_f) H_dᵀ (written as `lm_head.weight`: the model is untied afterwards).
 *
 * @example
 * ```ts
 * const src = new OverriddenWeights(ckpt.src);
 * await rotateResidual(src, ckpt.src, config); // then build with tie_word_embeddings: false
 * ```
 */
export async function rotateResidual(
  src: OverriddenWeights,
  base: WeightSource,
  config: ResidualShape,
): Promise<void> {
  const { hidden_size: d, intermediate_size: e } = config;
  const layer = (i: number) => `backbone.layers.${i}`;
  const ones = () => Promise.resolve(new Float32Array(d).fill(1));
  const lmHead = config.tie_word_embeddings ? "backbone.embeddings.weight" : "lm_head.weight";
  const gF = await base.read("backbone.norm_f.weight");
  src.set("lm_head.weight", async () => hadamardRows(scaleColumns(await base.read(lmHead), gF), d));
  src.map("backbone.embeddings.weight", (E) => hadamardRows(E, d));
  src.set("backbone.norm_f.weight", ones);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `${layer(i)}.mixer`;
    const g = await base.read(`${layer(i)}.norm.weight`);
    src.map(`${p}.in_proj.weight`, (W) => hadamardRows(scaleColumns(W, g), d));
    src.set(`${layer(i)}.norm.weight`, ones);
    src.map(`${p}.out_proj.weight`, (W) => hadamardColumns(W, d, e));
    if (config.use_bias) src.map(`${p}.out_proj.bias`, (b) => hadamardRows(b, d));
  }
}
