/**
 * A plain TypeScript Mamba-1 language model: the sequential (recurrent) form, one token at a time,
 * accumulating in float64. Slow and simple on purpose: tests use it as an independent check of
 * the ONNX graphs, which use a Conv and a Scan instead.
 *
 * Dimensions (see lib/arch/mamba/config.ts): d = hidden_size, e = intermediate_size, n = state_size,
 * r = time_step_rank, k = conv_kernel, v = vocab_size.
 */
import type { Checkpoint } from "../../checkpoint.ts";
import { asMambaConfig, type MambaConfig } from "./config.ts";
import { type ActName, mambaMixerSpec, type MixerSpec } from "./graph.ts";

/** Recurrent state of every layer. */
export interface ReferenceState {
  /** Per layer, the last k-1 inputs of conv1d, [e, k-1] row-major. */
  conv: Float64Array[];
  /** Per layer, the SSM state h, [e, n] row-major. */
  ssm: Float64Array[];
}

/** Hooks of the reference, one token at a time: activations are vectors of one position. */
export interface ReferenceHooks {
  act?(layer: number, name: ActName, v: Float64Array): Float64Array;
}

/** Row-major `y[o] = sum_i W[o, i] x[i] (+ b[o])` with W [out, in]. */
export function linear(
  W: Float32Array,
  x: Float64Array,
  out: number,
  b?: Float32Array,
): Float64Array {
  const inp = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    const row = o * inp;
    for (let i = 0; i < inp; i++) s += W[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** x · sigmoid(x) */
export const silu = (x: number): number => x / (1 + Math.exp(-x));
const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

/**
 * The reference model over float32 weights held in memory.
 *
 * @example
 * ```ts
 * const ref = await ReferenceMamba.fromCheckpoint(await openCheckpoint("data/models/embedded"));
 * const { logits } = ref.forward([1, 2, 3]); // [3, v]
 * ```
 */
export class ReferenceMamba {
  /**
   * `hooks.act` sees each activation a recipe touches (the names of lib/arch/mamba/graph.ts, with
   * `x_proj.input` the raw SSM input on its way to x_proj) and returns the value to use.
   */
  constructor(
    readonly config: MambaConfig,
    readonly w: Map<string, Float32Array>,
    readonly hooks: ReferenceHooks = {},
  ) {}

  /** Reads every tensor of a checkpoint as float32. */
  static async fromCheckpoint(ckpt: Checkpoint): Promise<ReferenceMamba> {
    const w = new Map<string, Float32Array>();
    for (const name of ckpt.store.names()) w.set(name, await ckpt.store.read(name));
    if (ckpt.config.tie_word_embeddings) w.set("lm_head.weight", w.get(ckpt.lmHead)!);
    return new ReferenceMamba(asMambaConfig(ckpt.config, "ReferenceMamba"), w);
  }

  /** A zero state. */
  initialState(): ReferenceState {
    const c = this.config, e = c.intermediate_size;
    return {
      conv: Array.from(
        { length: c.num_hidden_layers },
        () => new Float64Array(e * (c.conv_kernel - 1)),
      ),
      ssm: Array.from({ length: c.num_hidden_layers }, () => new Float64Array(e * c.state_size)),
    };
  }

  /** Logits [ids.length, v] and the state after the last token; `state` is updated in place. */
  forward(
    ids: number[],
    state: ReferenceState = this.initialState(),
  ): { logits: Float32Array; state: ReferenceState } {
    const v = this.config.vocab_size;
    const logits = new Float32Array(ids.length * v);
    ids.forEach((id, t) => logits.set(this.step(id, state), t * v));
    return { logits, state };
  }

  /** One token through the model: logits [v]. */
  step(id: number, state: ReferenceState): Float32Array {
    const c = this.config, d = c.hidden_size;
    const emb = this.w.get("backbone.embeddings.weight")!;
    let hidden: Float64Array = Float64Array.from(emb.subarray(id * d, (id + 1) * d)); // [d]
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const p = `backbone.layers.${i}`;
      const x = this.rmsnorm(hidden, this.w.get(`${p}.norm.weight`)!);
      const out = this.mixer(i, x, state);
      for (let j = 0; j < d; j++) hidden[j] += out[j];
    }
    hidden = this.rmsnorm(hidden, this.w.get("backbone.norm_f.weight")!);
    return Float32Array.from(linear(this.w.get("lm_head.weight")!, hidden, c.vocab_size));
  }

  private rmsnorm(x: Float64Array, weight: Float32Array): Float64Array {
    return rmsnorm(x, weight, this.config.layer_norm_epsilon);
  }

  /** The Mamba block (selective SSM) for one token: x [d] -> [d]. */
  private mixer(layer: number, xIn: Float64Array, state: ReferenceState): Float64Array {
    const spec = mambaMixerSpec(this.config, layer);
    const W = (s: string) => this.w.get(`${spec.prefix}.${s}`)!;
    const act = this.hooks.act &&
      ((name: ActName, v: Float64Array) => this.hooks.act!(layer, name, v));
    return mixerStep(spec, W, xIn, { conv: state.conv[layer], ssm: state.ssm[layer] }, act);
  }
}

/** RMSNorm of a vector: x / sqrt(mean(x²) + eps) · weight. */
export function rmsnorm(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  let ms = 0;
  for (const a of x) ms += a * a;
  const scale = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((a, j) => a * scale * weight[j]);
}

/**
 * One token through a Mamba-1 mixer, whichever model holds it (`m`: dimensions, biases and, for
 * Jamba, the RMSNorms on dt_low, B and C): x [d] -> [d]. `W` reads the mixer's tensors by their
 * name under `m.prefix` (`in_proj.weight`, ...); the conv window [e, k-1] and the SSM state
 * [e, n] are updated in place; `act` sees each activation a recipe touches and returns the value
 * to use (`x_proj.input` is the raw u on its way to x_proj).
 *
 * @example
 * ```ts
 * const out = mixerStep(spec, (s) => weights.get(`${spec.prefix}.${s}`)!, x, { conv, ssm });
 * ```
 */
export function mixerStep(
  m: MixerSpec,
  W: (name: string) => Float32Array,
  xIn: Float64Array,
  state: { conv: Float64Array; ssm: Float64Array },
  act?: (name: ActName, v: Float64Array) => Float64Array,
): Float64Array {
  const { e, n, k, r } = m;
  const hook = (name: ActName, v: Float64Array) => act?.(name, v) ?? v;
  const x = hook("in_proj.input", xIn);
  const xz = linear(W("in_proj.weight"), x, 2 * e, m.projBias ? W("in_proj.bias") : undefined); // [2e]
  const xs = hook("x", xz.slice(0, e)), z = hook("z", xz.slice(e)); // [e] each
  const conv = state.conv; // [e, k-1]
  const convW = W("conv1d.weight"); // [e, 1, k]
  const convB = m.convBias ? W("conv1d.bias") : undefined;
  const uRaw = new Float64Array(e); // conv1d + SiLU output, the SSM input
  for (let ch = 0; ch < e; ch++) {
    let s = convB ? convB[ch] : 0;
    for (let j = 0; j < k - 1; j++) s += convW[ch * k + j] * conv[ch * (k - 1) + j];
    s += convW[ch * k + k - 1] * xs[ch];
    for (let j = 0; j < k - 2; j++) conv[ch * (k - 1) + j] = conv[ch * (k - 1) + j + 1];
    if (k > 1) conv[ch * (k - 1) + k - 2] = xs[ch];
    uRaw[ch] = silu(s);
  }
  const u = hook("u", uRaw);
  const xpIn = act ? hook("x_proj.input", uRaw) : u;
  const xdbl = linear(W("x_proj.weight"), xpIn, r + 2 * n); // [r + 2n] = dt_low | B | C
  let dtLow: Float64Array = xdbl.slice(0, r);
  let B: Float64Array = xdbl.slice(r, r + n), C: Float64Array = xdbl.slice(r + n);
  if (m.innerNormEps !== undefined) {
    dtLow = rmsnorm(dtLow, W("dt_layernorm.weight"), m.innerNormEps);
    B = rmsnorm(B, W("b_layernorm.weight"), m.innerNormEps);
    C = rmsnorm(C, W("c_layernorm.weight"), m.innerNormEps);
  }
  dtLow = hook("dt_low", dtLow);
  B = hook("B", B);
  C = hook("C", C);
  const dtRaw = hook("dt", linear(W("dt_proj.weight"), dtLow, e)); // [e], before the bias
  const bias = W("dt_proj.bias");
  const dt = dtRaw.map((v, ch) => softplus(v + bias[ch])); // [e]
  const Alog = W("A_log"), D = W("D"), h = state.ssm;
  const ySsm = new Float64Array(e);
  for (let ch = 0; ch < e; ch++) {
    let acc = 0;
    for (let s = 0; s < n; s++) {
      const dA = Math.exp(-Math.exp(Alog[ch * n + s]) * dt[ch]);
      const hv = dA * h[ch * n + s] + dt[ch] * B[s] * u[ch];
      h[ch * n + s] = hv;
      acc += hv * C[s];
    }
    ySsm[ch] = acc + u[ch] * D[ch];
  }
  const y = hook("y", hook("y_ssm", ySsm).map((v, ch) => v * silu(z[ch])));
  return linear(W("out_proj.weight"), y, m.d, m.projBias ? W("out_proj.bias") : undefined);
}
