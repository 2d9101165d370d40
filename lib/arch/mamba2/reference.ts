/**
 * A plain TypeScript Mamba-2 language model: the recurrent form of SSD, one token at a time,
 * accumulating in float64, as mamba_ssm's `Mamba2.step` computes it. Slow and simple on purpose:
 * tests use it as an independent check of the ONNX graphs (which scan a whole sequence).
 *
 * Dimensions: lib/arch/mamba2/config.ts.
 */
import type { ReferenceHooks, ReferenceModel } from "../types.ts";
import type { WeightSource } from "../../onnx/hooks.ts";
import { linear, rmsnorm, silu } from "../mamba/reference.ts";
import { type Mamba2Config, mamba2Dims } from "./config.ts";
import { expectedMamba2Tensors } from "./tensors.ts";

/** Recurrent state of every layer. */
export interface Mamba2ReferenceState {
  /** Per layer, the last k-1 inputs of conv1d, [c, k-1] row-major. */
  conv: Float64Array[];
  /** Per layer, the SSM state, [h, p, n] row-major. */
  ssm: Float64Array[];
}

/** What the reference does where implementations differ. */
export interface Mamba2ReferenceOptions {
  /**
   * Clamp dt to `time_step_limit` (default true, in every step). mamba_ssm clamps in its
   * chunked prefill and not in `step`; `false` is its decode step.
   */
  clampDt?: boolean;
}

const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

/**
 * The float64 reference over weights held in memory.
 *
 * @example
 * ```ts
 * const ref = await ReferenceMamba2.fromSource(cfg, checkpoint.store);
 * const { logits } = ref.forward([1, 2, 3]); // [3, v]
 * ```
 */
export class ReferenceMamba2 implements ReferenceModel<Mamba2ReferenceState> {
  constructor(
    readonly config: Mamba2Config,
    readonly w: Map<string, Float32Array>,
    readonly hooks: ReferenceHooks = {},
    readonly options: Mamba2ReferenceOptions = {},
  ) {}

  /** Reads every tensor the config needs as float32. */
  static async fromSource(
    cfg: Mamba2Config,
    src: WeightSource,
    hooks?: ReferenceHooks,
    options?: Mamba2ReferenceOptions,
  ): Promise<ReferenceMamba2> {
    const w = new Map<string, Float32Array>();
    for (const name of expectedMamba2Tensors(cfg).keys()) w.set(name, await src.read(name));
    if (cfg.tie_word_embeddings) w.set("lm_head.weight", w.get("backbone.embeddings.weight")!);
    return new ReferenceMamba2(cfg, w, hooks, options);
  }

  /** A zero state. */
  initialState(): Mamba2ReferenceState {
    const { c, k, h, p, n } = mamba2Dims(this.config), L = this.config.num_hidden_layers;
    return {
      conv: Array.from({ length: L }, () => new Float64Array(c * (k - 1))),
      ssm: Array.from({ length: L }, () => new Float64Array(h * p * n)),
    };
  }

  /** Logits [ids.length, v] and the state after the last token; `state` is updated in place. */
  forward(
    ids: number[],
    state: Mamba2ReferenceState = this.initialState(),
  ): { logits: Float32Array; state: Mamba2ReferenceState } {
    const v = this.config.vocab_size;
    const logits = new Float32Array(ids.length * v);
    ids.forEach((id, t) => logits.set(this.step(id, state), t * v));
    return { logits, state };
  }

  /** One token through the model: logits [v]. */
  step(id: number, state: Mamba2ReferenceState): Float32Array {
    const c = this.config, d = c.hidden_size;
    const emb = this.w.get("backbone.embeddings.weight")!;
    let hidden: Float64Array = Float64Array.from(emb.subarray(id * d, (id + 1) * d)); // [d]
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const x = rmsnorm(
        hidden,
        this.w.get(`backbone.layers.${i}.norm.weight`)!,
        c.layer_norm_epsilon,
      );
      const out = this.mixer(i, x, state.conv[i], state.ssm[i]);
      for (let j = 0; j < d; j++) hidden[j] += out[j];
    }
    hidden = rmsnorm(hidden, this.w.get("backbone.norm_f.weight")!, c.layer_norm_epsilon);
    hidden = this.hooks.act?.(c.num_hidden_layers, "lm_head.input", hidden) ?? hidden;
    return Float32Array.from(linear(this.w.get("lm_head.weight")!, hidden, c.vocab_size));
  }

  /** The Mamba-2 mixer for one token: x [d] -> [d]; conv [c, k-1] and ssm [h, p, n] updated. */
  private mixer(
    layer: number,
    xIn: Float64Array,
    conv: Float64Array,
    ssm: Float64Array,
  ): Float64Array {
    const cfg = this.config, { d, e, h, p, g, n, k, c } = mamba2Dims(cfg);
    const W = (s: string) => this.w.get(`backbone.layers.${layer}.mixer.${s}`)!;
    const hook = (name: Parameters<NonNullable<ReferenceHooks["act"]>>[1], v: Float64Array) =>
      this.hooks.act?.(layer, name, v) ?? v;
    const x = hook("in_proj.input", xIn);
    const bias = (s: string) => (cfg.use_bias ? W(s) : undefined);
    const zxbcdt = linear(W("in_proj.weight"), x, 2 * e + 2 * g * n + h, bias("in_proj.bias"));
    const z = hook("z", zxbcdt.slice(0, e));
    const xBC = hook("xBC", zxbcdt.slice(e, e + c)); // [c] = x ‖ B ‖ C before the conv
    const dtRaw = hook("dt", zxbcdt.slice(e + c)); // [h], before dt_bias
    // causal depthwise conv over x ‖ B ‖ C with the last k-1 inputs, then SiLU
    const convW = W("conv1d.weight"), convB = cfg.use_conv_bias ? W("conv1d.bias") : undefined;
    const act = new Float64Array(c);
    for (let ch = 0; ch < c; ch++) {
      let s = convB ? convB[ch] : 0;
      for (let j = 0; j < k - 1; j++) s += convW[ch * k + j] * conv[ch * (k - 1) + j];
      s += convW[ch * k + k - 1] * xBC[ch];
      for (let j = 0; j < k - 2; j++) conv[ch * (k - 1) + j] = conv[ch * (k - 1) + j + 1];
      conv[ch * (k - 1) + k - 2] = xBC[ch];
      act[ch] = silu(s);
    }
    const u = hook("u", act.slice(0, e)); // [e] = [h, p], the SSM input
    const B = hook("B", act.slice(e, e + g * n)); // [g, n]
    const C = hook("C", act.slice(e + g * n)); // [g, n]
    const [lo, hi] = cfg.time_step_limit, clamp = this.options.clampDt ?? true;
    const dtBias = W("dt_bias"), Alog = W("A_log"), D = W("D");
    const ySsm = new Float64Array(e);
    for (let hh = 0; hh < h; hh++) {
      let dt = softplus(dtRaw[hh] + dtBias[hh]);
      if (clamp) dt = Math.min(Math.max(dt, lo), hi);
      const dA = Math.exp(-Math.exp(Alog[hh]) * dt);
      const grp = Math.floor(hh / (h / g)); // heads share B and C by group
      for (let j = 0; j < p; j++) {
        const ch = hh * p + j;
        let acc = 0;
        for (let s = 0; s < n; s++) {
          const at = ch * n + s;
          ssm[at] = dA * ssm[at] + dt * u[ch] * B[grp * n + s];
          acc += ssm[at] * C[grp * n + s];
        }
        ySsm[ch] = acc + D[hh] * u[ch];
      }
    }
    // gated RMSNorm: y · silu(z), normalised over groups of e / norm_groups channels
    const gated = hook("y_ssm", ySsm).map((v, ch) => v * silu(z[ch]));
    const size = e / cfg.norm_groups, normW = W("norm.weight");
    const y = new Float64Array(e);
    for (let q = 0; q < cfg.norm_groups; q++) {
      const part = rmsnorm(
        gated.slice(q * size, (q + 1) * size),
        normW.subarray(q * size, (q + 1) * size),
        cfg.layer_norm_epsilon,
      );
      y.set(part, q * size);
    }
    return linear(W("out_proj.weight"), hook("y", y), d, bias("out_proj.bias"));
  }
}
