/**
 * Jamba as two ONNX graphs (initializers keep the checkpoint's names):
 *
 *   prefill:  input_ids [b, l] int64, past_conv.{i} [b, e, k-1], past_ssm.{i} [b, e, n]
 *             (Mamba layers), past_key.{i}, past_value.{i} [b, G, t, hd] (attention layers)
 *             -> logits [b, l, v], present_conv.{i}, present_ssm.{i},
 *                present_key.{i}, present_value.{i} [b, G, t + l, hd]
 *   decode:   input_ids [b] int64, the same past states -> logits [b, v], the present states
 *
 * Each layer: h += mixer(input_layernorm(h)); h += ffn(pre_ff_layernorm(h)), with mixer a
 * Mamba-1 mixer (lib/arch/mamba/graph.ts, with RMSNorms on dt, B and C) or grouped-query causal
 * attention without positional encoding, and ffn a SwiGLU MLP or a mixture of SwiGLU experts
 * (router softmax, top-K, weights not renormalised). The experts run densely: every expert on
 * every token, each output weighted by its routing weight, zero for experts outside the top K
 * (exact, and the same for any batch). States and caches are float32.
 * Dimensions: lib/arch/jamba/config.ts.
 */
import type { Graph } from "../../onnx/builder.ts";
import type { GraphHooks, GraphOptions, WeightSource } from "../../onnx/hooks.ts";
import { GraphBuilder, type ModelSpec } from "../../onnx/layers.ts";
import { mixerDecode, mixerPrefill, type MixerSpec } from "../mamba/graph.ts";
import { type JambaConfig, jambaDims, type JambaLayer, jambaLayers } from "./config.ts";

/** The shared layers' view of a Jamba config (the residual stream always float32). */
export function jambaModelSpec(cfg: JambaConfig): ModelSpec {
  return {
    hidden: cfg.hidden_size,
    vocab: cfg.vocab_size,
    eps: cfg.rms_norm_eps,
    residualFp32: true,
    embedding: "model.embed_tokens.weight",
    finalNorm: "model.final_layernorm.weight",
    lmHead: cfg.tie_word_embeddings ? "model.embed_tokens" : "lm_head",
  };
}

/** The Mamba mixer of layer `i`. */
export function jambaMixerSpec(cfg: JambaConfig, i: number): MixerSpec {
  const { d, e, n, r, k } = jambaDims(cfg);
  return {
    prefix: `model.layers.${i}.mamba`,
    layer: i,
    d,
    e,
    n,
    r,
    k,
    convBias: cfg.mamba_conv_bias,
    projBias: cfg.mamba_proj_bias,
    innerNormEps: cfg.rms_norm_eps,
  };
}

/**
 * Causal grouped-query attention of layer `i` over x [b, l, d] (decode: [b, d]) in the compute
 * type, from the key/value caches of the t tokens before; returns o_proj's output, same shape.
 */
function attention(B: GraphBuilder, cfg: JambaConfig, i: number, xIn: string): string {
  const g = B.g, { d, H, G, hd } = jambaDims(cfg), R = H / G, decode = B.isDecode;
  const p = `model.layers.${i}.self_attn`;
  const pastK = g.input(`past_key.${i}`, "float32", ["batch", G, "past", hd]);
  const pastV = g.input(`past_value.${i}`, "float32", ["batch", G, "past", hd]);
  let x = B.act(i, "attn.input", xIn, d);
  if (decode) x = B.unsqueeze(x, 1); // [b, 1, d]: one token is a sequence of length 1
  // q/k/v_proj as one MatMul: [b, l, (H + 2G) hd]
  const [qp, kp, vp] = B.linearMany(x, [
    { prefix: `${p}.q_proj`, out: H * hd },
    { prefix: `${p}.k_proj`, out: G * hd },
    { prefix: `${p}.v_proj`, out: G * hd },
  ], d);
  // [b, l, heads * hd] -> [b, heads, l, hd]
  const heads = (y: string, n: number) =>
    g.op("Transpose", [
      g.op("Reshape", [B.toF32(y), g.const("int64", [0, 0, n, hd])]),
    ], { perm: [0, 2, 1, 3] });
  const q = heads(qp, H); // [b, H, l, hd]
  const K = g.op("Concat", [pastK, heads(kp, G)], { axis: 2 }); // [b, G, t+l, hd]
  const V = g.op("Concat", [pastV, heads(vp, G)], { axis: 2 }); // [b, G, t+l, hd]
  g.output(K, "float32", ["batch", G, "total", hd], `present_key.${i}`);
  g.output(V, "float32", ["batch", G, "total", hd], `present_value.${i}`);
  // query head h reads key/value head floor(h / R): group the queries as [b, G, R, l, hd]
  const q5 = g.op("Reshape", [q, g.const("int64", [0, G, R, -1, hd])]);
  const K5 = B.unsqueeze(K, 2), V5 = B.unsqueeze(V, 2); // [b, G, 1, t+l, hd]
  let scores = g.op("Mul", [
    g.op("MatMul", [q5, g.op("Transpose", [K5], { perm: [0, 1, 2, 4, 3] })]),
    g.scalar("float32", 1 / Math.sqrt(hd)),
  ]); // [b, G, R, l, t+l]
  if (!decode) scores = causalMask(B, scores, q, K);
  const probs = g.op("Softmax", [scores], { axis: -1 });
  const o = g.op("Transpose", [
    g.op("Reshape", [g.op("MatMul", [probs, V5]), g.const("int64", [0, H, -1, hd])]),
  ], { perm: [0, 2, 1, 3] }); // [b, l, H, hd]
  const flat = g.op("Reshape", [o, g.const("int64", decode ? [0, H * hd] : [0, 0, H * hd])]);
  const oIn = B.act(i, "o_proj.input", B.toCt(flat), H * hd);
  return B.linear(oIn, `${p}.o_proj`, d, H * hd, false); // [b, l, d] or [b, d]
}

/**
 * Query j of this run (absolute position t + j) sees keys 0 ..= t + j: scores of later keys
 * become -inf. q [b, H, l, hd], K [b, G, t+l, hd].
 */
function causalMask(B: GraphBuilder, scores: string, q: string, K: string): string {
  const g = B.g;
  const dim = (x: string, axis: number) =>
    g.op("Gather", [g.op("Shape", [x]), g.scalar("int64", axis)]); // scalar
  const l = dim(q, 2), T = dim(K, 2);
  const zero = g.scalar("int64", 0), one = g.scalar("int64", 1);
  const rows = g.op("Range", [zero, l, one]); // [l]
  const cols = g.op("Range", [zero, T, one]); // [t+l]
  const allowed = g.op("LessOrEqual", [
    B.unsqueeze(cols, 0),
    g.op("Add", [B.unsqueeze(rows, 1), g.op("Sub", [T, l])]),
  ]); // [l, t+l]
  return g.op("Where", [allowed, scores, g.scalar("float32", -Infinity)]);
}

/** gate_proj and up_proj of an MLP (dense or an expert), as parts of one MatMul. */
const gateUp = (prefix: string, f: number) => [
  { prefix: `${prefix}.gate_proj`, out: f },
  { prefix: `${prefix}.up_proj`, out: f },
];

/**
 * The rest of a SwiGLU MLP, down(silu(gate) · up), from gate_proj's and up_proj's outputs (compute
 * type); `mask` (0 or 1 per token) zeroes the down_proj input of tokens an expert does not serve
 * (exact: their routing weight is 0 and down_proj has no bias), so that hooks see only the tokens
 * the expert serves.
 */
function swiglu(
  B: GraphBuilder,
  prefix: string,
  gate: string,
  up: string,
  layer: number,
  act: "down_proj.input" | `experts.${number}.down_proj.input`,
  d: number,
  f: number,
  mask?: string,
): string {
  const g = B.g;
  let h = g.op("Mul", [B.silu(B.toF32(gate)), B.toF32(up)]); // [.., f]
  if (mask) h = g.op("Mul", [h, mask]);
  h = B.act(layer, act, B.toCt(h), f);
  return B.linear(h, `${prefix}.down_proj`, d, f, false); // [.., d]
}

/**
 * The feed-forward block of layer `i` on x [.., d] (compute type): a dense MLP, or E experts
 * weighted by the router: w = softmax(router x) (float32), kept for the top K experts, zero
 * for the rest (not renormalised), out = Σ_j w_j expert_j(x).
 */
function feedForward(
  B: GraphBuilder,
  cfg: JambaConfig,
  i: number,
  layer: JambaLayer,
  xIn: string,
): string {
  const g = B.g, { d, f, K } = jambaDims(cfg), E = layer.experts;
  const ff = `model.layers.${i}.feed_forward`;
  const x = B.act(i, "ffn.input", xIn, d);
  if (E === 1) {
    const [gate, up] = B.linearMany(x, gateUp(ff, f), d);
    return swiglu(B, ff, gate, up, i, "down_proj.input", d, f);
  }
  // the router (float32) and every expert's gate/up_proj: one MatMul when computing in float32
  const experts = Array.from({ length: E }, (_, j) => gateUp(`${ff}.experts.${j}`, f)).flat();
  const router = { prefix: `${ff}.router`, out: E };
  let logits: string, proj: string[]; // [.., E], 2E × [.., f]
  if (B.ct === "float32") [logits, ...proj] = B.linearMany(x, [router, ...experts], d);
  else {
    logits = B.linear(B.toF32(x), router.prefix, E, d, false, "float32");
    proj = B.linearMany(x, experts, d);
  }
  const probs = g.op("Softmax", [logits], { axis: -1 }); // [.., E]
  const [top, idx] = g.opN("TopK", [probs, g.const("int64", [K])], { axis: -1 }, {
    outputs: 2,
  }); // [.., K]
  const w = g.op("ScatterElements", [g.op("Mul", [probs, g.scalar("float32", 0)]), idx, top], {
    axis: -1,
  }); // [.., E]: the top K probabilities, zeros elsewhere
  const wj = g.opN("Split", [w], { axis: -1, num_outputs: E }, { outputs: E }); // E × [.., 1]
  let sum: string | undefined;
  for (let j = 0; j < E; j++) {
    const mask = g.op("Sign", [wj[j]]); // 1 for the experts a token is routed to
    const [gate, up] = [proj[2 * j], proj[2 * j + 1]];
    const name = `experts.${j}.down_proj.input` as const;
    const y = swiglu(B, `${ff}.experts.${j}`, gate, up, i, name, d, f, mask);
    const weighted = g.op("Mul", [B.toF32(y), wj[j]]);
    sum = sum === undefined ? weighted : g.op("Add", [sum, weighted]);
  }
  return B.toCt(sum!);
}

function build(
  name: "jamba_prefill" | "jamba_decode",
  cfg: JambaConfig,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks,
): Graph {
  const B = new GraphBuilder(name, jambaModelSpec(cfg), src, opt, hooks);
  const decode = B.isDecode;
  const ids = B.g.input("input_ids", "int64", decode ? ["batch"] : ["batch", "seq"]);
  let hidden = B.embed(ids); // [b, l, d] (decode: [b, d])
  let out: string | undefined; // the previous block's output, added to the residual by normAfter
  jambaLayers(cfg).forEach((layer, i) => {
    const p = `model.layers.${i}`;
    let x: string;
    [x, hidden] = B.normAfter(hidden, out, `${p}.input_layernorm.weight`);
    out = layer.mixer === "attention"
      ? attention(B, cfg, i, B.toCt(x))
      : (decode ? mixerDecode : mixerPrefill)(B, jambaMixerSpec(cfg, i), B.toCt(x));
    [x, hidden] = B.normAfter(hidden, out, `${p}.pre_ff_layernorm.weight`);
    out = feedForward(B, cfg, i, layer, B.toCt(x));
  });
  const dims = decode ? ["batch", cfg.vocab_size] : ["batch", "seq", cfg.vocab_size];
  B.g.output(B.head(hidden, out), "float32", dims, "logits");
  return B.g;
}

/**
 * The prefill graph (whole sequences, from the given states and caches).
 *
 * @example
 * ```ts
 * const g = buildJambaPrefill(cfg, ckpt.src, { weights: "float32", compute: "float32" });
 * ```
 */
export function buildJambaPrefill(
  cfg: JambaConfig,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks = {},
): Graph {
  return build("jamba_prefill", cfg, src, opt, hooks);
}

/**
 * The decode graph (one token per sequence, states and caches in and out).
 *
 * @example
 * ```ts
 * const g = buildJambaDecode(cfg, ckpt.src, { weights: "float32", compute: "float32" });
 * ```
 */
export function buildJambaDecode(
  cfg: JambaConfig,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks = {},
): Graph {
  return build("jamba_decode", cfg, src, opt, hooks);
}
