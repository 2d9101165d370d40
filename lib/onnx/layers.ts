/**
 * The layers every architecture's graphs share, over lib/onnx/builder.ts: weights read from a
 * checkpoint under their own names (cast to the compute type), linear layers, RMSNorm, the fused
 * residual add + RMSNorm, the embedding and the head. Architectures (lib/arch/mamba/graph.ts,
 * lib/arch/jamba/graph.ts) build their blocks on it.
 *
 * Dimensions: b batch, l sequence length, d hidden_size, v vocab_size.
 */
import { bytesOf, type DType, Graph } from "./builder.ts";
import { f32ArrayToF16 } from "../dtypes.ts";
import type { ActName, GraphHooks, GraphOptions, WeightSource } from "./hooks.ts";

/** What the shared layers need to know of a model. */
export interface ModelSpec {
  /** d */
  hidden: number;
  /** v */
  vocab: number;
  /** RMSNorm epsilon of the block norms and the final norm. */
  eps: number;
  /** The residual stream stays float32 when computing in float16. */
  residualFp32: boolean;
  /** Tensor names: the embedding, the final norm's weight, the lm_head's prefix (no `.weight`). */
  embedding: string;
  finalNorm: string;
  lmHead: string;
}

/** ONNX `Cast` codes of the float types. */
const CAST_TO = { float32: 1, float16: 10 } as const;

/**
 * One graph being built from a checkpoint: memoised weights, casts, linear layers, norms.
 *
 * @example
 * ```ts
 * const B = new GraphBuilder("mamba_prefill", spec, src, { weights: "float32", compute: "float32" });
 * const h = B.embed(B.g.input("input_ids", "int64", ["batch", "seq"]));
 * ```
 */
export class GraphBuilder {
  readonly g: Graph;
  private cache = new Map<string, string>();
  constructor(
    name: string,
    readonly spec: ModelSpec,
    readonly src: WeightSource,
    readonly opt: GraphOptions,
    readonly hooks: GraphHooks = {},
  ) {
    this.g = new Graph(name);
  }

  /** The big projections' type. */
  get ct(): DType {
    return this.opt.compute;
  }

  /** The residual stream type: float32 unless computing in float16 without a float32 residual. */
  get rt(): DType {
    return this.ct === "float16" && !this.spec.residualFp32 ? "float16" : "float32";
  }

  /** Whether this is a decode graph (one token per sequence: activations [b, c]). */
  get isDecode(): boolean {
    return this.g.name.endsWith("_decode");
  }

  /**
   * The value the rest of the graph uses for activation `name` of `layer` (a hook may observe or
   * quantize it); `dflt` when there is no hook (x_proj.input defaults to the hooked u).
   */
  act(layer: number, name: ActName, v: string, channels: number, dflt = v): string {
    return this.hooks.act ? this.hooks.act(this.g, layer, name, v, channels) : dflt;
  }

  memo(key: string, make: () => string): string {
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
    return this.g.op("Cast", [x], { to: CAST_TO[to as "float32"] });
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

  /**
   * Projections of the same input as one MatMul with their weights side by side, then split:
   * returns `x @ W_i^T` for each part (no biases). onnxruntime fuses a quantized input into an
   * int8 kernel only when the quantized value has one consumer, so projections that share an
   * input share a MatMul; with a `linear` hook (MatMulNBits) they stay separate.
   */
  linearMany(
    x: string,
    parts: { prefix: string; out: number }[],
    inp: number,
    type: DType = this.ct,
  ): string[] {
    if (parts.length === 1 || this.hooks.linear) {
      return parts.map((p) => this.linear(x, p.prefix, p.out, inp, false, type));
    }
    const prefixes = parts.map((p) => p.prefix), outs = parts.map((p) => p.out);
    const w = this.memo(
      `G:${prefixes.join("+")}`,
      () =>
        this.hooks.matmulWeightGroup?.(this.g, prefixes, outs, inp) ??
          this.g.op(
            "Concat",
            parts.map((p) => this.transposedWeight(p.prefix, p.out, inp, type)),
            { axis: 1 },
          ),
    );
    const y = this.g.op("MatMul", [x, w]);
    return this.g.opN("Split", [y, this.g.const("int64", outs)], { axis: -1 }, {
      outputs: parts.length,
    });
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

  /**
   * RMSNorm in float32 over the last axis (`size` channels, weight `weightName`), in the pattern
   * onnxruntime fuses: x / sqrt(mean(x²) + eps) · w.
   */
  rmsnorm(
    x: string,
    weightName: string,
    xType: DType,
    size = this.spec.hidden,
    eps = this.spec.eps,
  ): string {
    const g = this.g;
    const xf = xType === "float32" ? x : this.cast(x, "float32");
    const ms = g.op("ReduceMean", [
      g.op("Pow", [xf, g.scalar("float32", 2)]),
      g.const("int64", [-1]),
    ]);
    const rms = g.op("Sqrt", [g.op("Add", [ms, g.scalar("float32", eps)])]);
    const w = this.weight(weightName, [size], "float32");
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
    const w = this.weight(weightName, [this.spec.hidden], "float32");
    const skip = this.ct === "float32" ? out : this.cast(out, "float32");
    const [normed, , , sum] = this.g.opN(
      "SkipSimplifiedLayerNormalization",
      [hidden, skip, w],
      { epsilon: { f: this.spec.eps } },
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

  unsqueeze(x: string, axis: number): string {
    return this.g.op("Unsqueeze", [x, this.g.const("int64", [axis])]);
  }

  /** The embedding rows of `ids`, in the residual stream's type. */
  embed(ids: string): string {
    const { vocab: v, hidden: d } = this.spec;
    const h = this.g.op("Gather", [this.weight(this.spec.embedding, [v, d]), ids]);
    return this.ct === this.rt ? h : this.cast(h, this.rt);
  }

  /** The last block's residual add, the final norm and the lm_head; logits float32. */
  head(hidden: string, out: string | undefined): string {
    const { vocab: v, hidden: d } = this.spec;
    let [x] = this.normAfter(hidden, out, this.spec.finalNorm);
    if (this.ct !== "float32") x = this.cast(x, this.ct);
    const logits = this.linear(x, this.spec.lmHead, v, d, false);
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
