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
 * Dimensions: see lib/config.ts.
 */
import type { MambaConfig } from "./config.ts";
import { bytesOf, type DType, Graph } from "./onnx/builder.ts";
import { f32ArrayToF16 } from "./dtypes.ts";

/** Where the graph builder reads a weight from (a checkpoint, or synthetic weights). */
export interface WeightSource {
  read(name: string): Promise<Float32Array>;
}

export interface GraphOptions {
  /** Storage type of the weights. */
  weights: "float32" | "float16";
  /**
   * Type of the big projections (in_proj, x_proj, out_proj, lm_head); the conv, dt_proj, the
   * scan, the norms and the residual stream (with `residual_in_fp32`) run in float32.
   */
  compute: "float32" | "float16";
  /**
   * The prefill's selective scan: `sequential` (an ONNX Scan over time; default, the fastest on
   * the CPU EP) or `parallel` (log2 doubling steps over whole [b, l, e, n] tensors, for GPU EPs,
   * where a Scan pays a fixed cost per step; handles at most PARALLEL_SCAN_MAX tokens a run).
   */
  scan?: "sequential" | "parallel";
}

/**
 * Doubling steps of the parallel scan, and the longest prefill a run of it covers. 8 (256 tokens
 * a run) measured on the H200's WebGPU EP for the mamba-130m shape: 256 tokens in 262 ms, while
 * one run over 2048 tokens (11 steps, 200 MB tensors) took 20.6 s.
 */
export const PARALLEL_SCAN_STEPS = 8;
export const PARALLEL_SCAN_MAX: number = 2 ** PARALLEL_SCAN_STEPS;

const INT64_MAX = 2 ** 62;

/** Activations a recipe can observe or quantize (see lib/stats/schema.ts for their meaning). */
export type ActName =
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
  | "y";

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
  /** Replaces a whole projection `x @ W^T` (before its bias); undefined keeps the MatMul. */
  linear?(g: Graph, x: string, prefix: string, out: number, inp: number): string | undefined;
}

/** Shared machinery of both graphs: weights, casts, linear layers, norms. */
class Builder {
  readonly g: Graph;
  private cache = new Map<string, string>();
  constructor(
    name: string,
    readonly cfg: MambaConfig,
    readonly src: WeightSource,
    readonly opt: GraphOptions,
    readonly hooks: GraphHooks = {},
  ) {
    this.g = new Graph(name);
  }

  get ct(): DType {
    return this.opt.compute;
  }

  /** The residual stream type: float32 unless computing in float16 without residual_in_fp32. */
  get rt(): DType {
    return this.ct === "float16" && !this.cfg.residual_in_fp32 ? "float16" : "float32";
  }

  private memo(key: string, make: () => string): string {
    let v = this.cache.get(key);
    if (v === undefined) this.cache.set(key, v = make());
    return v;
  }

  /** A checkpoint tensor as an initializer of its own name, in the storage type. */
  raw(name: string, dims: number[]): string {
    return this.memo(`raw:${name}`, () => {
      const dtype = this.opt.weights;
      return this.g.init(name, dtype, dims, async () => {
        const x = await this.src.read(name);
        return dtype === "float16" ? bytesOf(f32ArrayToF16(x)) : bytesOf(x);
      });
    });
  }

  /** A checkpoint tensor in type `to` (a Cast that onnxruntime folds at load). */
  weight(name: string, dims: number[], to: DType = this.ct): string {
    const hooked = this.memo(`hook:${name}`, () => this.hooks.param?.(this.g, name, dims) ?? "");
    if (hooked) {
      return to === "float32"
        ? hooked
        : this.memo(`hookcast:${name}:${to}`, () => this.cast(hooked, to));
    }
    const r = this.raw(name, dims);
    if (this.opt.weights === to) return r;
    return this.memo(`cast:${name}:${to}`, () => this.cast(r, to));
  }

  cast(x: string, to: DType): string {
    return this.g.op("Cast", [x], { to: { float32: 1, float16: 10 }[to as "float32"] });
  }

  /** x @ W^T (+ b) with W [out, in] from the checkpoint; x in the compute type. */
  linear(
    x: string,
    prefix: string,
    out: number,
    inp: number,
    bias: boolean,
    type: DType = this.ct,
  ): string {
    const custom = this.hooks.linear?.(this.g, x, prefix, out, inp);
    const y = custom ?? this.g.op("MatMul", [x, this.transposedWeight(prefix, out, inp, type)]);
    return bias ? this.g.op("Add", [y, this.weight(`${prefix}.bias`, [out], type)]) : y;
  }

  /** W^T [in, out] of a projection, as MatMul's B input. */
  private transposedWeight(prefix: string, out: number, inp: number, type: DType): string {
    return this.memo(
      `T:${prefix}`,
      () =>
        this.hooks.matmulWeight?.(this.g, prefix, out, inp) ??
          this.g.op("Transpose", [this.weight(`${prefix}.weight`, [out, inp], type)], {
            perm: [1, 0],
          }),
    );
  }

  /** RMSNorm in float32 over the last axis, in the pattern onnxruntime fuses. */
  rmsnorm(x: string, weightName: string, xType: DType): string {
    const g = this.g;
    const xf = xType === "float32" ? x : this.cast(x, "float32");
    const ms = g.op("ReduceMean", [
      g.op("Pow", [xf, g.scalar("float32", 2)]),
      g.const("int64", [-1]),
    ]);
    const rms = g.op("Sqrt", [g.op("Add", [ms, g.scalar("float32", this.cfg.layer_norm_epsilon)])]);
    const w = this.weight(weightName, [this.cfg.hidden_size], "float32");
    return g.op("Mul", [g.op("Div", [xf, rms]), w]);
  }

  /**
   * The residual add of the previous block's output `out` (none before the first block) and the
   * next RMSNorm. With a float32 residual stream, one SkipSimplifiedLayerNormalization
   * (com.microsoft; the fusion onnxruntime makes on the CPU EP, not on WebGPU), one kernel
   * instead of seven on GPU EPs. Returns [normed [.., d] float32, the new residual stream].
   */
  normAfter(hidden: string, out: string | undefined, weightName: string): [string, string] {
    if (out === undefined || this.rt !== "float32") {
      const h = out === undefined ? hidden : this.addResidual(hidden, out);
      return [this.rmsnorm(h, weightName, this.rt), h];
    }
    const w = this.weight(weightName, [this.cfg.hidden_size], "float32");
    const skip = this.ct === "float32" ? out : this.cast(out, "float32");
    const [normed, , , sum] = this.g.opN(
      "SkipSimplifiedLayerNormalization",
      [hidden, skip, w],
      { epsilon: { f: this.cfg.layer_norm_epsilon } },
      {
        domain: "com.microsoft",
        outputs: [this.g.fresh("normed"), "", "", this.g.fresh("residual")],
      },
    );
    return [normed, sum];
  }

  silu(x: string): string {
    return this.g.op("Mul", [x, this.g.op("Sigmoid", [x])]);
  }

  /** A = -exp(A_log), [e, n] float32. */
  A(p: string): string {
    const { intermediate_size: e, state_size: n } = this.cfg;
    return this.g.op("Neg", [this.g.op("Exp", [this.weight(`${p}.A_log`, [e, n], "float32")])]);
  }

  unsqueeze(x: string, axis: number): string {
    return this.g.op("Unsqueeze", [x, this.g.const("int64", [axis])]);
  }

  embed(ids: string): string {
    const { vocab_size: v, hidden_size: d } = this.cfg;
    const h = this.g.op("Gather", [this.weight("backbone.embeddings.weight", [v, d]), ids]);
    return this.ct === this.rt ? h : this.cast(h, this.rt);
  }

  /** The last block's residual add, the final norm and the lm_head; logits float32. */
  head(hidden: string, out: string | undefined): string {
    const { vocab_size: v, hidden_size: d } = this.cfg;
    let [x] = this.normAfter(hidden, out, "backbone.norm_f.weight");
    if (this.ct !== "float32") x = this.cast(x, this.ct);
    const name = this.cfg.tie_word_embeddings ? "backbone.embeddings" : "lm_head";
    const logits = this.linear(x, name, v, d, false);
    return this.ct === "float32" ? logits : this.cast(logits, "float32");
  }

  addResidual(hidden: string, out: string): string {
    return this.g.op("Add", [hidden, this.ct === this.rt ? out : this.cast(out, this.rt)]);
  }

  /** The big projections' input in the compute type. */
  toCt(x: string): string {
    return this.ct === "float32" ? x : this.cast(x, this.ct);
  }

  toF32(x: string): string {
    return this.ct === "float32" ? x : this.cast(x, "float32");
  }
}

/** Shapes of the per-layer projections. */
function dims(cfg: MambaConfig) {
  return {
    d: cfg.hidden_size,
    e: cfg.intermediate_size,
    n: cfg.state_size,
    r: cfg.time_step_rank,
    k: cfg.conv_kernel,
  };
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
  B: Builder,
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

/** Builds the prefill graph (whole sequences, from the given states). */
export function buildPrefill(
  cfg: MambaConfig,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks = {},
): Graph {
  const B = new Builder("mamba_prefill", cfg, src, opt, hooks);
  const g = B.g;
  // `dflt`: the value to use when there is no hook (x_proj.input defaults to the hooked u)
  const act = (i: number, name: ActName, v: string, c: number, dflt = v) =>
    hooks.act ? hooks.act(g, i, name, v, c) : dflt;
  const { d, e, n, r, k } = dims(cfg);
  const ids = g.input("input_ids", "int64", ["batch", "seq"]);
  let hidden = B.embed(ids); // [b, l, d]
  let out: string | undefined; // the previous block's output, added to the residual by normAfter
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `backbone.layers.${i}.mixer`;
    const pastConv = g.input(`past_conv.${i}`, "float32", ["batch", e, k - 1]);
    const pastSsm = g.input(`past_ssm.${i}`, "float32", ["batch", e, n]);
    let x: string;
    [x, hidden] = B.normAfter(hidden, out, `backbone.layers.${i}.norm.weight`); // [b, l, d]
    if (B.ct !== "float32") x = B.cast(x, B.ct);
    x = act(i, "in_proj.input", x, d);
    // float16 compute: the big projections (in_proj, x_proj, out_proj, lm_head) in float16,
    // the rest of the block in float32 (one Cast in and out of each projection)
    const xz = B.toF32(B.linear(x, `${p}.in_proj`, 2 * e, d, cfg.use_bias)); // [b, l, 2e]
    let [xs, z] = g.opN("Split", [xz], { axis: 2, num_outputs: 2 }, { outputs: 2 }); // [b, l, e]
    xs = act(i, "x", xs, e);
    z = act(i, "z", z, e);
    const xt = g.op("Transpose", [xs], { perm: [0, 2, 1] }); // [b, e, l]
    const xpad = g.op("Concat", [pastConv, xt], { axis: 2 }); // [b, e, k-1+l]
    const convState = g.op("Slice", [
      xpad,
      g.const("int64", [-(k - 1)]),
      g.const("int64", [INT64_MAX]),
      g.const("int64", [2]),
    ]);
    g.output(convState, "float32", ["batch", e, k - 1], `present_conv.${i}`);
    const convIn = [xpad, B.weight(`${p}.conv1d.weight`, [e, 1, k], "float32")];
    if (cfg.use_conv_bias) convIn.push(B.weight(`${p}.conv1d.bias`, [e], "float32"));
    const conv = g.op("Conv", convIn, { group: e, kernel_shape: [k] }); // [b, e, l]
    const uRaw = g.op("Transpose", [B.silu(conv)], { perm: [0, 2, 1] }); // [b, l, e]
    const u = act(i, "u", uRaw, e);
    const xIn = B.toCt(act(i, "x_proj.input", uRaw, e, u));
    const xdbl = B.toF32(B.linear(xIn, `${p}.x_proj`, r + 2 * n, e, false)); // [b, l, r+2n]
    let [dtLow, Bm, Cm] = g.opN("Split", [xdbl, g.const("int64", [r, n, n])], { axis: 2 }, {
      outputs: 3,
    });
    dtLow = act(i, "dt_low", dtLow, r);
    Bm = act(i, "B", Bm, n);
    Cm = act(i, "C", Cm, n);
    const dtRaw = act(i, "dt", B.linear(dtLow, `${p}.dt_proj`, e, r, false, "float32"), e); // [b, l, e]
    const dtBias = B.weight(`${p}.dt_proj.bias`, [e], "float32");
    const dt = g.op("Softplus", [g.op("Add", [dtRaw, dtBias])]); // [b, l, e]
    const dtu = g.op("Mul", [dt, u]); // [b, l, e]
    const [hLast, ys] = opt.scan === "parallel"
      ? parallelScan(B, pastSsm, dt, dtu, Bm, Cm, B.A(p), i)
      : g.opN("Scan", [pastSsm, dt, dtu, Bm, Cm], {
        body: scanBody(B.A(p), i),
        num_scan_inputs: 4,
        scan_input_axes: [1, 1, 1, 1],
        scan_output_axes: [1],
      }, { outputs: [`present_ssm.${i}`, g.fresh("ys")] }); // [b, e, n], [b, l, e]
    g.output(hLast, "float32", ["batch", e, n]);
    const Dw = B.weight(`${p}.D`, [e], "float32");
    const ySsm = act(i, "y_ssm", g.op("Add", [ys, g.op("Mul", [u, Dw])]), e); // [b, l, e]
    let y = g.op("Mul", [ySsm, B.silu(z)]); // [b, l, e]
    if (B.ct !== "float32") y = B.cast(y, B.ct);
    y = act(i, "y", y, e);
    out = B.linear(y, `${p}.out_proj`, d, e, cfg.use_bias); // [b, l, d]
  }
  g.output(B.head(hidden, out), "float32", ["batch", "seq", cfg.vocab_size], "logits");
  return g;
}

/** Builds the decode graph (one token per sequence, states in and out). */
export function buildDecode(
  cfg: MambaConfig,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks = {},
): Graph {
  const B = new Builder("mamba_decode", cfg, src, opt, hooks);
  const g = B.g;
  // `dflt`: the value to use when there is no hook (x_proj.input defaults to the hooked u)
  const act = (i: number, name: ActName, v: string, c: number, dflt = v) =>
    hooks.act ? hooks.act(g, i, name, v, c) : dflt;
  const { d, e, n, r, k } = dims(cfg);
  const ids = g.input("input_ids", "int64", ["batch"]);
  let hidden = B.embed(ids); // [b, d]
  let out: string | undefined; // the previous block's output, added to the residual by normAfter
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `backbone.layers.${i}.mixer`;
    const pastConv = g.input(`past_conv.${i}`, "float32", ["batch", e, k - 1]);
    const pastSsm = g.input(`past_ssm.${i}`, "float32", ["batch", e, n]);
    let x: string;
    [x, hidden] = B.normAfter(hidden, out, `backbone.layers.${i}.norm.weight`); // [b, d]
    if (B.ct !== "float32") x = B.cast(x, B.ct);
    x = act(i, "in_proj.input", x, d);
    const xz = B.toF32(B.linear(x, `${p}.in_proj`, 2 * e, d, cfg.use_bias)); // [b, 2e]
    let [xs, z] = g.opN("Split", [xz], { axis: 1, num_outputs: 2 }, { outputs: 2 }); // [b, e]
    xs = act(i, "x", xs, e);
    z = act(i, "z", z, e);
    const window = g.op("Concat", [pastConv, B.unsqueeze(xs, 2)], { axis: 2 }); // [b, e, k]
    const next = g.op("Slice", [
      window,
      g.const("int64", [1]),
      g.const("int64", [INT64_MAX]),
      g.const("int64", [2]),
    ]);
    g.output(next, "float32", ["batch", e, k - 1], `present_conv.${i}`);
    const w2 = g.op("Reshape", [
      B.weight(`${p}.conv1d.weight`, [e, 1, k], "float32"),
      g.const("int64", [e, k]),
    ]);
    let conv = g.op("ReduceSum", [g.op("Mul", [window, w2]), g.const("int64", [2])], {
      keepdims: 0,
    }); // [b, e]
    if (cfg.use_conv_bias) {
      conv = g.op("Add", [conv, B.weight(`${p}.conv1d.bias`, [e], "float32")]);
    }
    const uRaw = B.silu(conv); // [b, e]
    const u = act(i, "u", uRaw, e);
    const xIn = B.toCt(act(i, "x_proj.input", uRaw, e, u));
    const xdbl = B.toF32(B.linear(xIn, `${p}.x_proj`, r + 2 * n, e, false)); // [b, r+2n]
    let [dtLow, Bm, Cm] = g.opN("Split", [xdbl, g.const("int64", [r, n, n])], { axis: 1 }, {
      outputs: 3,
    });
    dtLow = act(i, "dt_low", dtLow, r);
    Bm = act(i, "B", Bm, n);
    Cm = act(i, "C", Cm, n);
    const dtRaw = act(i, "dt", B.linear(dtLow, `${p}.dt_proj`, e, r, false, "float32"), e); // [b, e]
    const dtBias = B.weight(`${p}.dt_proj.bias`, [e], "float32");
    const dt = g.op("Softplus", [g.op("Add", [dtRaw, dtBias])]); // [b, e]
    const dA = g.op("Exp", [g.op("Mul", [B.unsqueeze(dt, 2), B.A(p)])]); // [b, e, n]
    const dBu = g.op("Mul", [B.unsqueeze(g.op("Mul", [dt, u]), 2), B.unsqueeze(Bm, 1)]); // [b, e, n]
    const h = g.op("Add", [g.op("Mul", [dA, pastSsm]), dBu]); // [b, e, n]
    g.output(h, "float32", ["batch", e, n], `present_ssm.${i}`);
    const yC = g.op("Squeeze", [
      g.op("MatMul", [h, B.unsqueeze(Cm, 2)]),
      g.const("int64", [2]),
    ]); // [b, e]
    const Dw = B.weight(`${p}.D`, [e], "float32");
    const ySsm = act(i, "y_ssm", g.op("Add", [yC, g.op("Mul", [u, Dw])]), e); // [b, e]
    let y = g.op("Mul", [ySsm, B.silu(z)]); // [b, e]
    if (B.ct !== "float32") y = B.cast(y, B.ct);
    y = act(i, "y", y, e);
    out = B.linear(y, `${p}.out_proj`, d, e, cfg.use_bias); // [b, d]
  }
  g.output(B.head(hidden, out), "float32", ["batch", cfg.vocab_size], "logits");
  return g;
}
