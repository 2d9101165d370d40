/**
 * A plain TypeScript Jamba: one token at a time, float64, plain loops, the sequential form of
 * everything (the Mamba mixers through lib/arch/mamba/reference.ts `mixerStep`, attention over a growing
 * key/value cache, only the routed experts computed). Slow and simple on purpose: tests compare
 * the ONNX graphs (dense experts, batched attention, Scan) with it.
 * Dimensions: lib/arch/jamba/config.ts.
 */
import type { ActName, WeightSource } from "../../onnx/hooks.ts";
import { linear, mixerStep, rmsnorm, silu } from "../mamba/reference.ts";
import type { ReferenceModel } from "../types.ts";
import { type JambaConfig, jambaDims, type JambaLayer, jambaLayers } from "./config.ts";
import { jambaMixerSpec } from "./graph.ts";
import { expectedJambaTensors } from "./tensors.ts";

/** The state of one sequence: per Mamba layer conv window and SSM state, per attention layer
 * the keys and values of every token seen. */
export interface JambaReferenceState {
  /** [e, k-1] per Mamba layer (undefined at attention layers) */
  conv: (Float64Array | undefined)[];
  /** [e, n] per Mamba layer */
  ssm: (Float64Array | undefined)[];
  /** per attention layer, one [G hd] vector per token seen (undefined at Mamba layers) */
  keys: (Float64Array[] | undefined)[];
  values: (Float64Array[] | undefined)[];
}

/**
 * Hooks of the reference: activations of one position (names of lib/onnx/hooks.ts), and the
 * projections of the attention and feed-forward blocks (`linear`: W [out, in] named by its
 * checkpoint name; undefined keeps the plain product), for emulating other int8 schemes.
 */
export interface JambaReferenceHooks {
  act?(layer: number, name: ActName, v: Float64Array): Float64Array;
  linear?(name: string, W: Float32Array, x: Float64Array, out: number): Float64Array | undefined;
}

/**
 * The reference model over float32 weights held in memory (hub names, experts one by one).
 *
 * @example
 * ```ts
 * const ref = await ReferenceJamba.fromSource(ckpt.config, ckpt.src);
 * const { logits } = ref.forward([1, 2, 3]); // [3, v]
 * ```
 */
export class ReferenceJamba implements ReferenceModel<JambaReferenceState> {
  readonly layers: JambaLayer[];
  constructor(
    readonly config: JambaConfig,
    readonly w: Map<string, Float32Array>,
    readonly hooks: JambaReferenceHooks = {},
  ) {
    this.layers = jambaLayers(config);
  }

  /** Reads every tensor the config needs from `src` as float32. */
  static async fromSource(
    config: JambaConfig,
    src: WeightSource,
    hooks: JambaReferenceHooks = {},
  ): Promise<ReferenceJamba> {
    const w = new Map<string, Float32Array>();
    for (const name of expectedJambaTensors(config).keys()) w.set(name, await src.read(name));
    return new ReferenceJamba(config, w, hooks);
  }

  private W(name: string): Float32Array {
    const x = this.w.get(name);
    if (!x) throw new Error(`reference: no tensor '${name}'`);
    return x;
  }

  /** A zero state (no token seen). */
  initialState(): JambaReferenceState {
    const { e, n, k } = jambaDims(this.config);
    const mamba = (l: JambaLayer) => l.mixer === "mamba";
    return {
      conv: this.layers.map((l) => (mamba(l) ? new Float64Array(e * (k - 1)) : undefined)),
      ssm: this.layers.map((l) => (mamba(l) ? new Float64Array(e * n) : undefined)),
      keys: this.layers.map((l) => (mamba(l) ? undefined : [])),
      values: this.layers.map((l) => (mamba(l) ? undefined : [])),
    };
  }

  /** Logits [ids.length, v] and the state after the last token (`state` updated in place). */
  forward(
    ids: number[],
    state: JambaReferenceState = this.initialState(),
  ): { logits: Float32Array; state: JambaReferenceState } {
    const v = this.config.vocab_size;
    const logits = new Float32Array(ids.length * v);
    ids.forEach((id, t) => logits.set(this.step(id, state), t * v));
    return { logits, state };
  }

  /** One token through the model: logits [v]. */
  step(id: number, state: JambaReferenceState): Float32Array {
    const c = this.config, { d, v } = jambaDims(c), eps = c.rms_norm_eps;
    const hidden = Float64Array.from(
      this.W("model.embed_tokens.weight").subarray(id * d, (id + 1) * d),
    ); // [d]
    this.layers.forEach((layer, i) => {
      const p = `model.layers.${i}`;
      const x = rmsnorm(hidden, this.W(`${p}.input_layernorm.weight`), eps);
      const out = layer.mixer === "mamba"
        ? this.mixer(i, x, state)
        : this.attention(i, x, state.keys[i]!, state.values[i]!);
      for (let j = 0; j < d; j++) hidden[j] += out[j];
      const y = this.feedForward(
        i,
        layer,
        rmsnorm(hidden, this.W(`${p}.pre_ff_layernorm.weight`), eps),
      );
      for (let j = 0; j < d; j++) hidden[j] += y[j];
    });
    const normed = rmsnorm(hidden, this.W("model.final_layernorm.weight"), eps);
    const head = c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    return Float32Array.from(linear(this.W(head), normed, v));
  }

  private act(layer: number, name: ActName, v: Float64Array): Float64Array {
    return this.hooks.act?.(layer, name, v) ?? v;
  }

  /** A block projection `name` (checkpoint name of its weight) of x, through the hook. */
  private proj(name: string, x: Float64Array, out: number): Float64Array {
    const W = this.W(name);
    return this.hooks.linear?.(name, W, x, out) ?? linear(W, x, out);
  }

  private mixer(i: number, x: Float64Array, state: JambaReferenceState): Float64Array {
    const spec = jambaMixerSpec(this.config, i);
    const W = (s: string) => this.W(`${spec.prefix}.${s}`);
    const act = this.hooks.act && ((name: ActName, v: Float64Array) => this.act(i, name, v));
    return mixerStep(spec, W, x, { conv: state.conv[i]!, ssm: state.ssm[i]! }, act);
  }

  /**
   * Attention of the newest token over every token seen (itself included): per query head h,
   * softmax(q_h · k_j / sqrt(hd)) over j, then Σ_j p_j v_j, with key/value head floor(h / (H / G)).
   */
  private attention(
    i: number,
    xIn: Float64Array,
    keys: Float64Array[],
    values: Float64Array[],
  ): Float64Array {
    const { d, H, G, hd } = jambaDims(this.config), R = H / G;
    const p = `model.layers.${i}.self_attn`;
    const x = this.act(i, "attn.input", xIn);
    const q = this.proj(`${p}.q_proj.weight`, x, H * hd); // [H hd]
    keys.push(this.proj(`${p}.k_proj.weight`, x, G * hd)); // [G hd]
    values.push(this.proj(`${p}.v_proj.weight`, x, G * hd));
    const o = new Float64Array(H * hd);
    const scores = new Float64Array(keys.length);
    for (let h = 0; h < H; h++) {
      const kv = Math.floor(h / R) * hd;
      let mx = -Infinity;
      for (let j = 0; j < keys.length; j++) {
        let s = 0;
        for (let c = 0; c < hd; c++) s += q[h * hd + c] * keys[j][kv + c];
        scores[j] = s / Math.sqrt(hd);
        mx = Math.max(mx, scores[j]);
      }
      let z = 0;
      for (let j = 0; j < keys.length; j++) z += scores[j] = Math.exp(scores[j] - mx);
      for (let j = 0; j < keys.length; j++) {
        for (let c = 0; c < hd; c++) o[h * hd + c] += (scores[j] / z) * values[j][kv + c];
      }
    }
    return this.proj(`${p}.o_proj.weight`, this.act(i, "o_proj.input", o), d);
  }

  /** down(silu(gate x) · up x). */
  private mlp(
    i: number,
    prefix: string,
    x: Float64Array,
    name: "down_proj.input" | `experts.${number}.down_proj.input`,
  ): Float64Array {
    const { d, f } = jambaDims(this.config);
    const gate = this.proj(`${prefix}.gate_proj.weight`, x, f);
    const up = this.proj(`${prefix}.up_proj.weight`, x, f);
    const h = this.act(i, name, gate.map((g, c) => silu(g) * up[c]));
    return this.proj(`${prefix}.down_proj.weight`, h, d);
  }

  /** The dense MLP, or the top-K experts weighted by the router's softmax (not renormalised). */
  private feedForward(i: number, layer: JambaLayer, xIn: Float64Array): Float64Array {
    const { d, K } = jambaDims(this.config), E = layer.experts;
    const ff = `model.layers.${i}.feed_forward`;
    const x = this.act(i, "ffn.input", xIn);
    if (E === 1) return this.mlp(i, ff, x, "down_proj.input");
    const logits = this.proj(`${ff}.router.weight`, x, E);
    const mx = Math.max(...logits);
    const ex = logits.map((a) => Math.exp(a - mx));
    const z = ex.reduce((a, b) => a + b, 0);
    const probs = ex.map((a) => a / z);
    // top K, the lower index first among equals (as torch.topk on distinct values)
    const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a] || a - b).slice(0, K);
    const out = new Float64Array(d);
    for (const j of order) {
      const y = this.mlp(i, `${ff}.experts.${j}`, x, `experts.${j}.down_proj.input`);
      for (let c = 0; c < d; c++) out[c] += probs[j] * y[c];
    }
    return out;
  }
}
