/**
 * Mamba-1 as two ONNX graphs, built from the checkpoint's tensors (initializers keep the
 * checkpoint's names):
 *
 *   prefill:  input_ids [b, l] int64, past_conv.{i} [b, e, k-1], past_ssm.{i} [b, e, n]
 *             -> logits [b, l, v], present_conv.{i}, present_ssm.{i}
 *   decode:   input_ids [b] int64, past_conv.{i}, past_ssm.{i}
 *             -> logits [b, v], present_conv.{i}, present_ssm.{i}
 *
 * The prefill starts from the given states (zeros for a fresh sequence), so a long text can be
 * fed in pieces. States are float32. The prefill runs conv1d as a grouped Conv and the selective
 * scan as an ONNX Scan over time; the decode step is the recurrence written out for one token.
 * Dimensions: see lib/arch/mamba/config.ts.
 */
import type { MambaConfig } from "./config.ts";
import { Graph } from "../../onnx/builder.ts";
import type { GraphHooks, GraphOptions, WeightSource } from "../../onnx/hooks.ts";
import type { GraphBuilder, ModelSpec } from "../../onnx/layers.ts";
import { backboneSpec, buildBackbone } from "./backbone.ts";
import { fusedScan } from "../../onnx/fused_mixer.ts";
import { causalConv, causalConvStep, type ConvWeights } from "../../onnx/causal_conv.ts";

export type {
  ActName,
  BlockActName,
  GraphHooks,
  GraphOptions,
  MixerActName,
  WeightSource,
} from "../../onnx/hooks.ts";

/**
 * Doubling steps of the parallel scan, and the longest prefill a run of it covers. 8 (256 tokens
 * a run) measured on the H200's WebGPU EP for the mamba-130m shape: 256 tokens in 262 ms, while
 * one run over 2048 tokens (11 steps, 200 MB tensors) took 20.6 s.
 */
export const PARALLEL_SCAN_STEPS = 8;
export const PARALLEL_SCAN_MAX: number = 2 ** PARALLEL_SCAN_STEPS;

const INT64_MAX = 2 ** 62;

/**
 * One Mamba-1 mixer, whichever model holds it: its tensors' prefix, its dimensions, its biases,
 * and (Jamba) the RMSNorms on dt_low, B and C right after x_proj.
 */
export interface MixerSpec {
  /** Tensor prefix, e.g. `backbone.layers.3.mixer` (Mamba) or `model.layers.3.mamba` (Jamba). */
  prefix: string;
  /** Layer index: names the states (`past_conv.{layer}`) and the hooks' activations. */
  layer: number;
  d: number;
  e: number;
  n: number;
  r: number;
  k: number;
  /** conv1d has a bias. */
  convBias: boolean;
  /** in_proj and out_proj have biases. */
  projBias: boolean;
  /** Jamba: RMSNorms `<prefix>.{dt,b,c}_layernorm.weight` with this epsilon after x_proj. */
  innerNormEps?: number;
}

/** The shared layers' view of a Mamba config (lib/arch/mamba/backbone.ts). */
export function mambaModelSpec(cfg: MambaConfig): ModelSpec {
  return backboneSpec(cfg);
}

/** The mixer of layer `i` of a Mamba model. */
export function mambaMixerSpec(cfg: MambaConfig, i: number): MixerSpec {
  return {
    prefix: `backbone.layers.${i}.mixer`,
    layer: i,
    d: cfg.hidden_size,
    e: cfg.intermediate_size,
    n: cfg.state_size,
    r: cfg.time_step_rank,
    k: cfg.conv_kernel,
    convBias: cfg.use_conv_bias,
    projBias: cfg.use_bias,
  };
}

/** conv1d's weight [e, 1, k] and bias [e], float32. */
function convWeights(B: GraphBuilder, m: MixerSpec): ConvWeights {
  const w = B.weight(`${m.prefix}.conv1d.weight`, [m.e, 1, m.k], "float32");
  return {
    weight: w,
    bias: m.convBias ? B.weight(`${m.prefix}.conv1d.bias`, [m.e], "float32") : undefined,
  };
}

/** A = -exp(A_log), [e, n] float32. */
function stateMatrix(B: GraphBuilder, m: MixerSpec): string {
  const A_log = B.weight(`${m.prefix}.A_log`, [m.e, m.n], "float32");
  return B.g.op("Neg", [B.g.op("Exp", [A_log])]);
}

/**
 * The scan body for one time step, discretizing inside the step so that no [b, l, e, n] tensor
 * is ever materialised (measured: as fast as scanning precomputed dA and dBu, or unrolling 8-32
 * steps per iteration, with far less memory):
 *   dA = exp(dt * A); h = dA * h + (dt * u) B; y = h C.
 * `A` [e, n] is read from the enclosing graph.
 */
function scanBody(A: string, layer: number): Graph {
  const s = new Graph("selective_scan_step", `scan${layer}_`);
  const h = s.input("h", "float32"); // [b, e, n]
  const dt = s.input("dt_t", "float32"); // [b, e]
  const dtu = s.input("dtu_t", "float32"); // [b, e]
  const B = s.input("B_t", "float32"); // [b, n]
  const C = s.input("C_t", "float32"); // [b, n]
  const ax1 = s.const("int64", [1]), ax2 = s.const("int64", [2]);
  const dA = s.op("Exp", [s.op("Mul", [s.op("Unsqueeze", [dt, ax2]), A])]); // [b, e, n]
  const dBu = s.op("Mul", [s.op("Unsqueeze", [dtu, ax2]), s.op("Unsqueeze", [B, ax1])]); // [b, e, n]
  const hNew = s.op("Add", [s.op("Mul", [dA, h]), dBu]); // [b, e, n]
  const y = s.op("Squeeze", [s.op("MatMul", [hNew, s.op("Unsqueeze", [C, ax2])]), ax2]); // [b, e]
  s.output(hNew, "float32", undefined, "h_out");
  s.output(y, "float32", undefined, "y_t");
  return s;
}

/**
 * The selective scan over a whole sequence without a loop (Hillis–Steele): with
 * a_t = exp(dt_t A) and b_t = (dt_t u_t) B_t, h_t = a_t h_{t-1} + b_t is an associative
 * recurrence; after doubling steps k = 1, 2, 4, … (b_t += a_t b_{t-k}, a_t *= a_{t-k}),
 * b_t = h_t. The past state enters as b_0 += a_0 h_{-1}. Shifts pad at the front and keep the
 * first l positions, so any l up to 2^steps works. Returns [h_{l-1} [b, e, n], y [b, l, e]].
 */
function parallelScan(
  B: GraphBuilder,
  pastSsm: string, // [b, e, n]
  dt: string, // [b, l, e]
  dtu: string, // [b, l, e]
  Bm: string, // [b, l, n]
  Cm: string, // [b, l, n]
  A: string, // [e, n]
  layer: number,
): string[] {
  const g = B.g;
  let a = g.op("Exp", [g.op("Mul", [B.unsqueeze(dt, 3), A])]); // [b, l, e, n]
  let h = g.op("Mul", [B.unsqueeze(dtu, 3), B.unsqueeze(Bm, 2)]); // [b, l, e, n]
  // b_0 += a_0 h_{-1}: add a_t h_{-1} at t = 0 only, through a one-hot over time
  const len = g.op("Slice", [g.op("Shape", [dt]), g.const("int64", [1]), g.const("int64", [2])]); // [1]
  const t0 = g.op("Pad", [
    g.const("float32", [1], [1, 1, 1, 1]),
    g.op("Concat", [
      g.const("int64", [0, 0, 0, 0, 0]),
      g.op("Sub", [len, g.const("int64", [1])]),
      g.const("int64", [0, 0]),
    ], { axis: 0 }),
  ]); // [1, l, 1, 1]
  h = g.op("Add", [h, g.op("Mul", [g.op("Mul", [a, B.unsqueeze(pastSsm, 1)]), t0])]);
  const axis = g.const("int64", [1]), zero = g.const("int64", [0]);
  const shift = (x: string, k: number, fill: number) =>
    g.op("Slice", [
      g.op("Pad", [x, g.const("int64", [0, k, 0, 0, 0, 0, 0, 0]), g.scalar("float32", fill)]),
      zero,
      len,
      axis,
    ]);
  for (let s = 0; s < PARALLEL_SCAN_STEPS; s++) {
    const k = 2 ** s;
    h = g.op("Add", [h, g.op("Mul", [a, shift(h, k, 0)])]);
    if (s + 1 < PARALLEL_SCAN_STEPS) a = g.op("Mul", [a, shift(a, k, 1)]);
  }
  const y = g.op("ReduceSum", [g.op("Mul", [h, B.unsqueeze(Cm, 2)]), g.const("int64", [3])], {
    keepdims: 0,
  }); // [b, l, e]
  const last = g.op(
    "Squeeze",
    [
      g.op("Slice", [h, g.const("int64", [-1]), g.const("int64", [INT64_MAX]), axis]),
      axis,
    ],
    {},
    { outputs: [`present_ssm.${layer}`] },
  ); // [b, e, n]
  return [last, y];
}

/**
 * dt_low, B and C from x_proj's output [.., r + 2n] (split on the last axis), through Jamba's
 * RMSNorms when the mixer has them, then the hooks.
 */
function splitXdbl(B: GraphBuilder, m: MixerSpec, xdbl: string, axis: number): string[] {
  const g = B.g, { r, n, layer: i } = m;
  let [dtLow, Bm, Cm] = g.opN("Split", [xdbl, g.const("int64", [r, n, n])], { axis }, {
    outputs: 3,
  });
  if (m.innerNormEps !== undefined) {
    const eps = m.innerNormEps, p = m.prefix;
    dtLow = B.rmsnorm(dtLow, `${p}.dt_layernorm.weight`, "float32", r, eps);
    Bm = B.rmsnorm(Bm, `${p}.b_layernorm.weight`, "float32", n, eps);
    Cm = B.rmsnorm(Cm, `${p}.c_layernorm.weight`, "float32", n, eps);
  }
  return [B.act(i, "dt_low", dtLow, r), B.act(i, "B", Bm, n), B.act(i, "C", Cm, n)];
}

/** dt = softplus(dt_proj(dt_low) + bias), with the hook on dt_proj's output before the bias. */
function timeStep(B: GraphBuilder, m: MixerSpec, dtLow: string): string {
  const { e, r, prefix: p } = m;
  const dtRaw = B.act(m.layer, "dt", B.linear(dtLow, `${p}.dt_proj`, e, r, false, "float32"), e);
  const dtBias = B.weight(`${p}.dt_proj.bias`, [e], "float32");
  return B.g.op("Softplus", [B.g.op("Add", [dtRaw, dtBias])]);
}

/**
 * The mixer over whole sequences from its states: x [b, l, d] (the normed block input, in the
 * compute type) -> out [b, l, d] (compute type). Declares `past_conv.{i}` [b, e, k-1] and
 * `past_ssm.{i}` [b, e, n] as inputs and `present_conv.{i}`, `present_ssm.{i}` as outputs.
 */
export function mixerPrefill(B: GraphBuilder, m: MixerSpec, xIn: string): string {
  const g = B.g, { d, e, n, r, k, layer: i, prefix: p } = m;
  const pastConv = g.input(`past_conv.${i}`, "float32", ["batch", e, k - 1]);
  const pastSsm = g.input(`past_ssm.${i}`, "float32", ["batch", e, n]);
  const x = B.act(i, "in_proj.input", xIn, d);
  // float16 compute: the big projections (in_proj, x_proj, out_proj, lm_head) in float16,
  // the rest of the block in float32 (one Cast in and out of each projection)
  const xz = B.toF32(B.linear(x, `${p}.in_proj`, 2 * e, d, m.projBias)); // [b, l, 2e]
  let [xs, z] = g.opN("Split", [xz], { axis: 2, num_outputs: 2 }, { outputs: 2 }); // [b, l, e]
  xs = B.act(i, "x", xs, e);
  z = B.act(i, "z", z, e);
  const xt = g.op("Transpose", [xs], { perm: [0, 2, 1] }); // [b, e, l]
  const fused = B.opt.scan === "fused";
  const uT = causalConv(B, xt, pastConv, convWeights(B, m), { ch: e, k, layer: i }); // [b, e, l]
  const uRaw = g.op("Transpose", [uT], { perm: [0, 2, 1] }); // [b, l, e]
  const u = B.act(i, "u", uRaw, e);
  const xpIn = B.toCt(B.act(i, "x_proj.input", uRaw, e, u));
  const xdbl = B.toF32(B.linear(xpIn, `${p}.x_proj`, r + 2 * n, e, false)); // [b, l, r+2n]
  const [dtLow, Bm, Cm] = splitXdbl(B, m, xdbl, 2); // [b, l, r], [b, l, n], [b, l, n]
  const dt = timeStep(B, m, dtLow); // [b, l, e]
  const dtu = g.op("Mul", [dt, u]); // [b, l, e]
  const A = stateMatrix(B, m);
  const [hLast, ys] = fused
    ? (({ state, y }) => [state, y])(fusedScan(B, { pastSsm, dt, dtu, Bm, Cm, A }, e, n, i))
    : B.opt.scan === "parallel"
    ? parallelScan(B, pastSsm, dt, dtu, Bm, Cm, A, i)
    : g.opN("Scan", [pastSsm, dt, dtu, Bm, Cm], {
      body: scanBody(A, i),
      num_scan_inputs: 4,
      scan_input_axes: [1, 1, 1, 1],
      scan_output_axes: [1],
    }, { outputs: [`present_ssm.${i}`, g.fresh("ys")] }); // [b, e, n], [b, l, e]
  g.output(hLast, "float32", ["batch", e, n]);
  const Dw = B.weight(`${p}.D`, [e], "float32");
  const ySsm = B.act(i, "y_ssm", g.op("Add", [ys, g.op("Mul", [u, Dw])]), e); // [b, l, e]
  let y = g.op("Mul", [ySsm, B.silu(z)]); // [b, l, e]
  if (B.ct !== "float32") y = B.cast(y, B.ct);
  y = B.act(i, "y", y, e);
  return B.linear(y, `${p}.out_proj`, d, e, m.projBias); // [b, l, d]
}

/**
 * The mixer for one token per sequence: x [b, d] -> out [b, d], the recurrence written out,
 * with the same state inputs and outputs as mixerPrefill.
 */
export function mixerDecode(B: GraphBuilder, m: MixerSpec, xIn: string): string {
  const g = B.g, { d, e, n, r, k, layer: i, prefix: p } = m;
  const pastConv = g.input(`past_conv.${i}`, "float32", ["batch", e, k - 1]);
  const pastSsm = g.input(`past_ssm.${i}`, "float32", ["batch", e, n]);
  const x = B.act(i, "in_proj.input", xIn, d);
  const xz = B.toF32(B.linear(x, `${p}.in_proj`, 2 * e, d, m.projBias)); // [b, 2e]
  let [xs, z] = g.opN("Split", [xz], { axis: 1, num_outputs: 2 }, { outputs: 2 }); // [b, e]
  xs = B.act(i, "x", xs, e);
  z = B.act(i, "z", z, e);
  const fused = B.opt.scan === "fused";
  const uRaw = causalConvStep(B, xs, pastConv, convWeights(B, m), { ch: e, k, layer: i }); // [b, e]
  const u = B.act(i, "u", uRaw, e);
  const xpIn = B.toCt(B.act(i, "x_proj.input", uRaw, e, u));
  const xdbl = B.toF32(B.linear(xpIn, `${p}.x_proj`, r + 2 * n, e, false)); // [b, r+2n]
  const [dtLow, Bm, Cm] = splitXdbl(B, m, xdbl, 1); // [b, r], [b, n], [b, n]
  const dt = timeStep(B, m, dtLow); // [b, e]
  let yC: string; // C·h [b, e]
  if (fused) {
    const one = (x: string) => B.unsqueeze(x, 1); // [b, ...] -> [b, 1, ...]
    const r1 = fusedScan(
      B,
      {
        pastSsm,
        dt: one(dt),
        dtu: one(g.op("Mul", [dt, u])),
        Bm: one(Bm),
        Cm: one(Cm),
        A: stateMatrix(B, m),
      },
      e,
      n,
      i,
    );
    g.output(r1.state, "float32", ["batch", e, n]);
    yC = g.op("Squeeze", [r1.y, g.const("int64", [1])]);
  } else {
    const dA = g.op("Exp", [g.op("Mul", [B.unsqueeze(dt, 2), stateMatrix(B, m)])]); // [b, e, n]
    const dBu = g.op("Mul", [B.unsqueeze(g.op("Mul", [dt, u]), 2), B.unsqueeze(Bm, 1)]); // [b, e, n]
    const h = g.op("Add", [g.op("Mul", [dA, pastSsm]), dBu]); // [b, e, n]
    g.output(h, "float32", ["batch", e, n], `present_ssm.${i}`);
    yC = g.op("Squeeze", [
      g.op("MatMul", [h, B.unsqueeze(Cm, 2)]),
      g.const("int64", [2]),
    ]); // [b, e]
  }
  const Dw = B.weight(`${p}.D`, [e], "float32");
  const ySsm = B.act(i, "y_ssm", g.op("Add", [yC, g.op("Mul", [u, Dw])]), e); // [b, e]
  let y = g.op("Mul", [ySsm, B.silu(z)]); // [b, e]
  if (B.ct !== "float32") y = B.cast(y, B.ct);
  y = B.act(i, "y", y, e);
  return B.linear(y, `${p}.out_proj`, d, e, m.projBias); // [b, d]
}

/** Builds the prefill graph (whole sequences, from the given states). */
export function buildPrefill(
  cfg: MambaConfig,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks = {},
): Graph {
  return buildBackbone(
    "mamba_prefill",
    cfg,
    src,
    opt,
    hooks,
    (B, i, x) => mixerPrefill(B, mambaMixerSpec(cfg, i), x),
  );
}

/** Builds the decode graph (one token per sequence, states in and out). */
export function buildDecode(
  cfg: MambaConfig,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks = {},
): Graph {
  return buildBackbone(
    "mamba_decode",
    cfg,
    src,
    opt,
    hooks,
    (B, i, x) => mixerDecode(B, mambaMixerSpec(cfg, i), x),
  );
}
