/**
 * Graph hooks that make a Mamba graph W8A8 in QDQ form: QuantizeLinear → DequantizeLinear pairs
 * (int8, zero point 0) at every quantized activation, one pair per consumer, and int8 weights
 * behind DequantizeLinear, so that onnxruntime fuses the four projections into int8 kernels
 * (QLinearMatMul / MatMulIntegerToFloat). The scan runs in float32 on dequantized inputs.
 */
import type { Graph } from "../onnx/builder.ts";
import { bytesOf } from "../onnx/builder.ts";
import { hadamardOnnx } from "../onnx/hadamard_op.ts";
import type { ActName, GraphHooks, WeightSource } from "../mamba_onnx.ts";
import type { MambaConfig } from "../config.ts";
import { absmax, quantizeWith, scaleOf } from "./int8.ts";
import type { ActPoint, QuantPlan } from "./plan.ts";
import type { Smoothing } from "./transform.ts";

/** The activation point whose scale quantizes each hooked activation. */
export const POINT: Partial<Record<ActName, ActPoint>> = {
  "in_proj.input": "in_proj.input",
  x: "xz",
  z: "xz",
  u: "u",
  "x_proj.input": "x_proj.input",
  dt_low: "x_proj.output",
  B: "x_proj.output",
  C: "x_proj.output",
  dt: "dt",
  y: "y",
};

/** Projections whose weights are int8 (in [in, out] layout for MatMul). */
export const PROJECTIONS = ["in_proj", "x_proj", "dt_proj", "out_proj"];
/** Other parameters quantized per tensor (same layout). */
export const QUANTIZED_PARAMS = ["conv1d.weight", "conv1d.bias", "A_log", "D", "dt_proj.bias"];

/** Weight scales, computed once per tensor and shared by both graphs. */
export class WeightScales {
  private readonly memo = new Map<string, Promise<number>>();
  constructor(private readonly src: WeightSource) {}
  get(name: string): Promise<number> {
    let p = this.memo.get(name);
    if (!p) this.memo.set(name, p = this.src.read(name).then((x) => scaleOf(absmax(x))));
    return p;
  }
}

export interface QdqOptions {
  /** The method's explicit smoothing Muls (SmoothQuant). */
  smoothing?: Smoothing;
  /** Weight scales to share with the caller (e.g. to record them). */
  weightScales?: WeightScales;
  /** false: only the method's exact transforms (smoothing, rotation), no quantization: the
   * float model the method starts from. Default true. */
  quantize?: boolean;
}

/**
 * QDQ hooks for a plan (use one instance for both graphs of a model).
 *
 * @example
 * ```ts
 * const hooks = qdqHooks(cfg, src, plan);
 * const prefill = buildPrefill(cfg, src, { weights: "float32", compute: "float32" }, hooks);
 * ```
 */
export function qdqHooks(
  config: MambaConfig,
  src: WeightSource,
  plan: QuantPlan,
  options: QdqOptions = {},
): GraphHooks {
  const { smoothing, weightScales = new WeightScales(src), quantize = true } = options;
  const e = config.intermediate_size;
  const zp = (g: Graph) => g.const("int8", [0], [], "quant.zero_point");

  /** int8 codes + scale of a checkpoint tensor, behind a DequantizeLinear. */
  function dqWeight(g: Graph, name: string, dims: number[], transposed: boolean): string {
    const qname = `${name}.int8`, sname = `${name}.scale`;
    const [rows, cols] = [dims[0], dims.slice(1).reduce((a, b) => a * b, 1)];
    const qdims = transposed ? [cols, rows] : dims;
    if (!g.initializers.has(qname)) {
      g.init(qname, "int8", qdims, async () => {
        const scale = await weightScales.get(name);
        const x = await src.read(name);
        return bytesOf(quantizeWith(x, scale, transposed ? { rows, cols } : undefined));
      });
      g.init(
        sname,
        "float32",
        [],
        async () => bytesOf(Float32Array.of(await weightScales.get(name))),
      );
    }
    return g.op("DequantizeLinear", [qname, sname, zp(g)]);
  }

  function qdq(g: Graph, v: string, layer: number, point: ActPoint): string {
    const s = g.const(
      "float32",
      [plan.layers[layer].scale[point]],
      [],
      `backbone.layers.${layer}.mixer.${point}.act_scale`,
    );
    const q = g.op("QuantizeLinear", [v, s, zp(g)]);
    return g.op("DequantizeLinear", [q, s, zp(g)]);
  }

  /**
   * Fake quantization in plain arithmetic, clip(round(v / s), -128, 127) · s (the same values
   * as a Q/DQ pair), for the scan's copy of u: a second QuantizeLinear of u would be merged by
   * onnxruntime's common-subexpression elimination with x_proj's, and a shared int8 input
   * keeps x_proj from its int8 kernel.
   */
  function fakeQ(g: Graph, v: string, layer: number, point: ActPoint): string {
    const s = g.const(
      "float32",
      [plan.layers[layer].scale[point]],
      [],
      `backbone.layers.${layer}.mixer.${point}.act_scale`,
    );
    const q = g.op("Clip", [
      g.op("Round", [g.op("Div", [v, s])]),
      g.scalar("float32", -128),
      g.scalar("float32", 127),
    ]);
    return g.op("Mul", [q, s]);
  }

  /** Per-token fake quantization with scales computed at run time (method `dynamic`). */
  function dynamicQ(g: Graph, v: string): string {
    const amax = g.op("ReduceMax", [g.op("Abs", [v]), g.const("int64", [-1])], { keepdims: 1 });
    const s = g.op("Max", [
      g.op("Div", [amax, g.scalar("float32", 127)]),
      g.scalar("float32", 1e-12),
    ]);
    const q = g.op("Clip", [
      g.op("Round", [g.op("Div", [v, s])]),
      g.scalar("float32", -128),
      g.scalar("float32", 127),
    ]);
    return g.op("Mul", [q, s]);
  }

  return {
    act(g, layer, name, value) {
      const point = POINT[name];
      if (!point) return value;
      let v = value;
      if (name === "x_proj.input" && smoothing) {
        v = g.op("Mul", [
          v,
          g.const(
            "float32",
            smoothing.xProjInput[layer],
            [e],
            `backbone.layers.${layer}.mixer.x_proj.smooth_inv`,
          ),
        ]);
      }
      if (name === "y") {
        if (smoothing) {
          v = g.op("Mul", [
            v,
            g.const(
              "float32",
              smoothing.outProjInput[layer],
              [e],
              `backbone.layers.${layer}.mixer.out_proj.smooth_inv`,
            ),
          ]);
        }
        if (plan.spec.hadamardY) v = hadamardOnnx(g, v, e, g.name === "mamba_decode" ? 2 : 3);
      }
      if (!quantize) return v;
      if (plan.spec.dynamic) return dynamicQ(g, v);
      return name === "u" ? fakeQ(g, v, layer, point) : qdq(g, v, layer, point);
    },
    matmulWeight(g, prefix, out, inp) {
      if (!quantize || !PROJECTIONS.some((p) => prefix.endsWith(`.mixer.${p}`))) return undefined;
      return dqWeight(g, `${prefix}.weight`, [out, inp], true);
    },
    param(g, name, dims) {
      if (!quantize || !QUANTIZED_PARAMS.some((p) => name.endsWith(`.mixer.${p}`))) {
        return undefined;
      }
      return dqWeight(g, name, dims, false);
    },
  };
}
