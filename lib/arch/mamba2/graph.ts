/**
 * Mamba-2 as two ONNX graphs, built from the checkpoint's tensors (initializers keep the
 * checkpoint's names):
 *
 *   prefill:  input_ids [b, l] int64, past_conv.{i} [b, c, k-1], past_ssm.{i} [b, h, p, n]
 *             -> logits [b, l, v], present_conv.{i}, present_ssm.{i}
 *   decode:   input_ids [b] int64, past_conv.{i}, past_ssm.{i}
 *             -> logits [b, v], present_conv.{i}, present_ssm.{i}
 *
 * One mixer (mamba_ssm's `Mamba2`): in_proj -> z ‖ xBC ‖ dt; SiLU(causal conv) over xBC -> x, B, C;
 * dt = clamp(softplus(dt + dt_bias), time_step_limit); per head, with A = -exp(A_log) a scalar,
 *   h_t = exp(dt_t A) h_{t-1} + dt_t x_t ⊗ B_t,   y_t = h_t C_t + D x_t
 * (heads use their group's B and C); then the gated RMSNorm y · silu(z) per group of
 * e / norm_groups channels, and out_proj.
 *
 * The prefill computes SSD's chunked form with MatMuls (`scan: "parallel"`, lib/arch/mamba2/ssd.ts,
 * Mamba-2's default on every EP), scans time with an ONNX Scan (`scan: "sequential"`), or runs
 * onnxruntime's CausalConvWithState and LinearAttention (`scan: "fused"`, lib/arch/mamba2/fused.ts;
 * the decode step too). With one group, B and C stay [.., 1, n] and broadcast over the heads.
 * dt is clamped in the
 * prefill and in the decode step alike, so that a token's logits do not depend on how the text
 * was split (mamba_ssm clamps only in its chunked prefill; see README "Mamba-2").
 * Dimensions: lib/arch/mamba2/config.ts.
 */
import { type Mamba2Config, mamba2Dims } from "./config.ts";
import { Graph } from "../../onnx/builder.ts";
import type { GraphHooks, GraphOptions, WeightSource } from "../../onnx/hooks.ts";
import type { GraphBuilder } from "../../onnx/layers.ts";
import { buildBackbone } from "../mamba/backbone.ts";
import { causalConv, causalConvStep } from "../../onnx/causal_conv.ts";
import { chunkedScan } from "./ssd.ts";
import { fusedSsd } from "./fused.ts";

/** One mixer's graph values shared by prefill and decode. */
interface MixerIo {
  B: GraphBuilder;
  cfg: Mamba2Config;
  layer: number;
  /** `backbone.layers.{i}.mixer` */
  prefix: string;
}

/** in_proj -> z [.., e], xBC [.., c], dt before its bias [.., h] (hooks on all three). */
function inProj(m: MixerIo, xIn: string, axis: number): string[] {
  const { B, cfg, layer: i, prefix: p } = m, { d, e, c, h } = mamba2Dims(cfg);
  const x = B.act(i, "in_proj.input", xIn, d);
  const zxbcdt = B.toF32(B.linear(x, `${p}.in_proj`, e + c + h, d, cfg.use_bias));
  const [z, xBC, dt] = B.g.opN("Split", [zxbcdt, B.g.const("int64", [e, c, h])], { axis }, {
    outputs: 3,
  });
  return [B.act(i, "z", z, e), B.act(i, "xBC", xBC, c), B.act(i, "dt", dt, h)];
}

/** conv1d's weight [c, 1, k] and bias [c], float32. */
function convWeights(m: MixerIo) {
  const { B, cfg, prefix: p } = m, { c, k } = mamba2Dims(cfg);
  const weight = B.weight(`${p}.conv1d.weight`, [c, 1, k], "float32");
  return {
    weight,
    bias: cfg.use_conv_bias ? B.weight(`${p}.conv1d.bias`, [c], "float32") : undefined,
  };
}

/** The conv's output [.., c] split to u [.., e], B [.., g n], C [.., g n] (hooked). */
function splitXBC(m: MixerIo, act: string, axis: number): string[] {
  const { B, layer: i } = m, { e, g, n } = mamba2Dims(m.cfg);
  const [u, Bm, Cm] = B.g.opN("Split", [act, B.g.const("int64", [e, g * n, g * n])], { axis }, {
    outputs: 3,
  });
  return [B.act(i, "u", u, e), B.act(i, "B", Bm, g * n), B.act(i, "C", Cm, g * n)];
}

/** dt = clamp(softplus(dt + dt_bias), time_step_limit) [.., h]. */
function timeStep(m: MixerIo, dtRaw: string): string {
  const { B, cfg } = m, g = B.g, [lo, hi] = cfg.time_step_limit;
  let dt = g.op("Softplus", [
    g.op("Add", [dtRaw, B.weight(`${m.prefix}.dt_bias`, [cfg.num_heads], "float32")]),
  ]);
  if (lo > 0) dt = g.op("Max", [dt, g.scalar("float32", lo)]);
  if (Number.isFinite(hi)) dt = g.op("Min", [dt, g.scalar("float32", hi)]);
  return dt;
}

/** A = -exp(A_log) [h], float32. */
function stateDecay(m: MixerIo): string {
  const A_log = m.B.weight(`${m.prefix}.A_log`, [m.cfg.num_heads], "float32");
  return m.B.g.op("Neg", [m.B.g.op("Exp", [A_log])]);
}

/**
 * B or C [.., g n] as one row per head [.., h, n]: head j reads group floor(j / (h / g)) (as
 * transformers' repeat_interleave and mamba_ssm's kernels). With one group, [.., 1, n], which
 * every consumer broadcasts over the heads (no copy, and C·Bᵀ once for all heads).
 */
function perHead(m: MixerIo, v: string, lead: number[]): string {
  const g = m.B.g, { h, g: G, n } = mamba2Dims(m.cfg);
  const zeros = lead.map(() => 0);
  if (G === 1) return g.op("Reshape", [v, g.const("int64", [...zeros, 1, n])]);
  const grouped = g.op("Reshape", [v, g.const("int64", [...zeros, G, 1, n])]); // [.., g, 1, n]
  const wide = G === h ? grouped : g.op("Expand", [
    grouped,
    g.const("int64", [...lead.map(() => 1), 1, h / G, 1]),
  ]); // [.., g, h/g, n]
  return g.op("Reshape", [wide, g.const("int64", [...zeros, h, n])]);
}

/**
 * y_ssm [.., e] -> the out_proj input: y · silu(z), RMS-normalised over groups of e / norm_groups
 * channels, times norm.weight (hooks on y_ssm and y). `lead` is the number of leading axes.
 */
function gatedNorm(m: MixerIo, ySsm: string, z: string, lead: number): string {
  const { B, cfg, layer: i } = m, g = B.g, { e } = mamba2Dims(cfg), G = cfg.norm_groups;
  const zeros = Array.from({ length: lead }, () => 0);
  const gated = g.op("Mul", [B.act(i, "y_ssm", ySsm, e), B.silu(z)]); // [.., e]
  const parts = G === 1 ? gated : g.op("Reshape", [gated, g.const("int64", [...zeros, G, e / G])]);
  const ms = g.op("ReduceMean", [
    g.op("Pow", [parts, g.scalar("float32", 2)]),
    g.const("int64", [-1]),
  ]);
  const rms = g.op("Sqrt", [g.op("Add", [ms, g.scalar("float32", cfg.layer_norm_epsilon)])]);
  let y = g.op("Div", [parts, rms]);
  if (G !== 1) y = g.op("Reshape", [y, g.const("int64", [...zeros, e])]);
  y = g.op("Mul", [y, B.weight(`${m.prefix}.norm.weight`, [e], "float32")]);
  if (B.ct !== "float32") y = B.cast(y, B.ct);
  return B.act(i, "y", y, e);
}

/** The state inputs of a mixer. */
function stateInputs(m: MixerIo): [string, string] {
  const { c, k, h, p, n } = mamba2Dims(m.cfg), g = m.B.g, i = m.layer;
  return [
    g.input(`past_conv.${i}`, "float32", ["batch", c, k - 1]),
    g.input(`past_ssm.${i}`, "float32", ["batch", h, p, n]),
  ];
}

/**
 * The recurrence for one token: state [b, h, p, n], dt [b, h], x [b, h, p], B, C [b, h, n],
 * A [h] -> [new state, y [b, h, p]] (C·h, without D x).
 */
function ssdStep(
  g: Graph,
  s: { state: string; dt: string; x: string; B: string; C: string; A: string },
): [string, string] {
  const ax = (a: number[]) => g.const("int64", a);
  const dA = g.op("Unsqueeze", [g.op("Exp", [g.op("Mul", [s.dt, s.A])]), ax([2, 3])]); // [b, h, 1, 1]
  const dtx = g.op("Mul", [g.op("Unsqueeze", [s.dt, ax([2])]), s.x]); // [b, h, p]
  const upd = g.op("Mul", [g.op("Unsqueeze", [dtx, ax([3])]), g.op("Unsqueeze", [s.B, ax([2])])]); // [b, h, p, n]
  const next = g.op("Add", [g.op("Mul", [dA, s.state]), upd]);
  const y = g.op("Squeeze", [g.op("MatMul", [next, g.op("Unsqueeze", [s.C, ax([3])])]), ax([3])]); // [b, h, p]
  return [next, y];
}

/** The Scan body over time: h [b, h, p, n]; dt_t [b, h], x_t [b, h, p], B_t, C_t [b, h, n]. */
function scanBody(A: string, layer: number): Graph {
  const s = new Graph("ssd_step", `ssd${layer}_`);
  const state = s.input("h", "float32");
  const dt = s.input("dt_t", "float32"), x = s.input("x_t", "float32");
  const Bt = s.input("B_t", "float32"), Ct = s.input("C_t", "float32");
  const [next, y] = ssdStep(s, { state, dt, x, B: Bt, C: Ct, A });
  s.output(next, "float32", undefined, "h_out");
  s.output(y, "float32", undefined, "y_t");
  return s;
}

/** One Mamba-2 mixer over whole sequences from its states: x [b, l, d] -> [b, l, d]. */
export function mamba2MixerPrefill(
  B: GraphBuilder,
  cfg: Mamba2Config,
  i: number,
  xIn: string,
): string {
  const m: MixerIo = { B, cfg, layer: i, prefix: `backbone.layers.${i}.mixer` };
  const g = B.g, { h, p, c, k } = mamba2Dims(cfg);
  const [pastConv, pastSsm] = stateInputs(m);
  const [z, xBC, dtRaw] = inProj(m, xIn, 2); // [b, l, e], [b, l, c], [b, l, h]
  const xt = g.op("Transpose", [xBC], { perm: [0, 2, 1] }); // [b, c, l]
  const convT = causalConv(B, xt, pastConv, convWeights(m), { ch: c, k, layer: i }); // [b, c, l]
  const [u, Bm, Cm] = splitXBC(m, g.op("Transpose", [convT], { perm: [0, 2, 1] }), 2);
  const dt = timeStep(m, dtRaw); // [b, l, h]
  const xh = g.op("Reshape", [u, g.const("int64", [0, 0, h, p])]); // [b, l, h, p]
  const A = stateDecay(m);
  const ssd = () => {
    if (B.opt.scan === "fused") {
      return fusedSsd(B, { pastSsm, dt, x: xh, B: Bm, C: Cm, A }, { h, p, g: cfg.n_groups });
    }
    const Bh = perHead(m, Bm, [0, 0]), Ch = perHead(m, Cm, [0, 0]); // [b, l, h or 1, n]
    return scanOrChunks(B, cfg, i, { pastSsm, dt, x: xh, B: Bh, C: Ch, A });
  };
  const [last, ys] = ssd(); // [b, h, p, n], [b, l, h, p]
  return mixerOutput(m, { state: last, y: ys, x: xh, z }, 2);
}

/**
 * A mixer's end, prefill and decode alike: declares the new SSM state [b, h, p, n] (hook
 * `ssm_state`), adds D x to C·h y [.., h, p], and returns out_proj(gated norm(.., z)) [.., d].
 * `lead` is the number of leading axes (2: [b, l], 1: [b]).
 */
function mixerOutput(
  m: MixerIo,
  v: { state: string; y: string; x: string; z: string },
  lead: number,
): string {
  const { B, cfg, layer: i } = m, g = B.g, { d, e, h, p, n } = mamba2Dims(cfg);
  g.output(B.act(i, "ssm_state", v.state, n), "float32", ["batch", h, p, n], `present_ssm.${i}`);
  const D = g.op("Unsqueeze", [B.weight(`${m.prefix}.D`, [h], "float32"), g.const("int64", [1])]); // [h, 1]
  const ySsm = g.op("Reshape", [
    g.op("Add", [v.y, g.op("Mul", [v.x, D])]),
    g.const("int64", [...Array(lead).fill(0), e]),
  ]); // [.., e]
  return B.linear(gatedNorm(m, ySsm, v.z, lead), `${m.prefix}.out_proj`, d, e, cfg.use_bias);
}

/** The SSM over l tokens by SSD's chunked form (`parallel`) or a Scan over time. */
function scanOrChunks(
  B: GraphBuilder,
  cfg: Mamba2Config,
  i: number,
  v: { pastSsm: string; dt: string; x: string; B: string; C: string; A: string },
): string[] {
  const g = B.g, { h, p, n } = mamba2Dims(cfg);
  const { pastSsm, dt, x: xh, B: Bh, C: Ch, A } = v;
  return B.opt.scan === "parallel"
    ? chunkedScan(B, { pastSsm, dt, x: xh, B: Bh, C: Ch, A }, {
      h,
      p,
      n,
      hB: cfg.n_groups === 1 ? 1 : h,
      Q: cfg.chunk_size,
      layer: i,
    })
    : g.opN("Scan", [pastSsm, dt, xh, Bh, Ch], {
      body: scanBody(A, i),
      num_scan_inputs: 4,
      scan_input_axes: [1, 1, 1, 1],
      scan_output_axes: [1],
    }, { outputs: [g.fresh("ssm"), g.fresh("ys")] }); // [b, h, p, n], [b, l, h, p]
}

/** One Mamba-2 mixer for one token per sequence: x [b, d] -> [b, d]. */
export function mamba2MixerDecode(
  B: GraphBuilder,
  cfg: Mamba2Config,
  i: number,
  xIn: string,
): string {
  const m: MixerIo = { B, cfg, layer: i, prefix: `backbone.layers.${i}.mixer` };
  const g = B.g, { h, p, c, k } = mamba2Dims(cfg);
  const [pastConv, pastSsm] = stateInputs(m);
  const [z, xBC, dtRaw] = inProj(m, xIn, 1); // [b, e], [b, c], [b, h]
  const conv = causalConvStep(B, xBC, pastConv, convWeights(m), { ch: c, k, layer: i }); // [b, c]
  const [u, Bm, Cm] = splitXBC(m, conv, 1);
  const xh = g.op("Reshape", [u, g.const("int64", [0, h, p])]); // [b, h, p]
  const dt = timeStep(m, dtRaw); // [b, h]
  let next: string, yC: string; // [b, h, p, n], [b, h, p]
  if (B.opt.scan === "fused") {
    const one = (x: string) => B.unsqueeze(x, 1); // one token: [b, ...] -> [b, 1, ...]
    const v = { pastSsm, dt: one(dt), x: one(xh), B: one(Bm), C: one(Cm), A: stateDecay(m) };
    let ys: string;
    [next, ys] = fusedSsd(B, v, { h, p, g: cfg.n_groups });
    yC = g.op("Squeeze", [ys, g.const("int64", [1])]);
  } else {
    [next, yC] = ssdStep(g, {
      state: pastSsm,
      dt,
      x: xh,
      B: perHead(m, Bm, [0]),
      C: perHead(m, Cm, [0]),
      A: stateDecay(m),
    });
  }
  return mixerOutput(m, { state: next, y: yC, x: xh, z }, 1);
}

/** Builds the prefill graph (whole sequences, from the given states). */
export function buildMamba2Prefill(
  cfg: Mamba2Config,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks = {},
): Graph {
  const mixer = (B: GraphBuilder, i: number, x: string) => mamba2MixerPrefill(B, cfg, i, x);
  return buildBackbone("mamba2_prefill", cfg, src, opt, hooks, mixer, headOf(cfg));
}

/** Builds the decode graph (one token per sequence, states in and out). */
export function buildMamba2Decode(
  cfg: Mamba2Config,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks = {},
): Graph {
  const mixer = (B: GraphBuilder, i: number, x: string) => mamba2MixerDecode(B, cfg, i, x);
  return buildBackbone("mamba2_decode", cfg, src, opt, hooks, mixer, headOf(cfg));
}

/**
 * The last residual add, the final norm and the lm_head (as GraphBuilder.head), with the hook
 * `lm_head.input` (layer num_hidden_layers) on the lm_head's input; logits float32.
 */
function headOf(cfg: Mamba2Config) {
  return (B: GraphBuilder, hidden: string, out: string | undefined): string => {
    const { d, v } = mamba2Dims(cfg);
    let [x] = B.normAfter(hidden, out, B.spec.finalNorm);
    x = B.toCt(B.act(cfg.num_hidden_layers, "lm_head.input", x, d));
    return B.toF32(B.linear(x, B.spec.lmHead, v, d, false));
  };
}
