/**
 * Graph hooks that make a model's graphs W8A8 in QDQ form: QuantizeLinear → DequantizeLinear
 * pairs (int8, zero point 0) at every quantized activation, one pair per consumer, and int8
 * weights behind DequantizeLinear, so that onnxruntime fuses the projections into int8 kernels
 * (QLinearMatMul / MatMulIntegerToFloat). In Mamba mixers the scan runs in float32 on
 * dequantized inputs; hybrid models' attention, router, expert and MLP projections are
 * quantized where the plan gives their input a scale (lib/quant/points.ts). Works for any
 * architecture of lib/arch/registry.ts.
 */
import type { ModelConfig } from "../arch/registry.ts";
import type { Graph } from "../onnx/builder.ts";
import { bytesOf } from "../onnx/builder.ts";
import { hadamardOnnx } from "../onnx/hadamard_op.ts";
import type { ActName, GraphHooks, WeightSource } from "../arch/mamba/graph.ts";
import { absmax, quantizeWith, scaleOf } from "./int8.ts";
import type { ActPoint, QuantPlan } from "./plan.ts";
import {
  isBlockPoint,
  isMixerParam,
  layerOf,
  projectionInput,
  QUANTIZED_PARAMS,
  type QuantPoint,
} from "./points.ts";
import type { Smoothing } from "./transform.ts";

export { QUANTIZED_PARAMS };

/** The activation point whose scale quantizes each hooked mixer activation. */
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

/** The point quantizing activation `name`: a mixer's by POINT, a block's by its own name. */
export function pointOf(name: ActName): QuantPoint | undefined {
  return POINT[name] ?? (isBlockPoint(name) ? name : undefined);
}

/** Mixer projections whose weights are int8 (in [in, out] layout for MatMul). */
export const PROJECTIONS = ["in_proj", "x_proj", "dt_proj", "out_proj"];

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
 * Whether a checkpoint weight is int8 under `plan`: a projection whose input point has a scale
 * in its layer (every mixer projection for the dynamic method), or a mixer parameter of a
 * quantized mixer.
 *
 * @example
 * ```ts
 * isQuantizedWeight(plan, "model.layers.1.self_attn.q_proj.weight"); // false for quamba-mamba-only
 * ```
 */
export function isQuantizedWeight(plan: QuantPlan, name: string): boolean {
  const layer = plan.layers[layerOf(name)];
  if (!layer) return false;
  if (isMixerParam(name)) return plan.spec.dynamic || layer.scale.u !== undefined;
  if (!name.endsWith(".weight")) return false;
  const point = projectionInput(name.slice(0, -".weight".length));
  if (point === undefined) return false;
  if (plan.spec.dynamic) return (POINT as Record<string, string>)[point] !== undefined;
  return layer.scale[point] !== undefined;
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
  _config: ModelConfig,
  src: WeightSource,
  plan: QuantPlan,
  options: QdqOptions = {},
): GraphHooks {
  const { smoothing, weightScales = new WeightScales(src), quantize = true } = options;
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

  /**
   * Projections sharing an input as one int8 weight [in, Σ outs]: each tensor's codes (own
   * per-tensor scale, [in, out_i]) side by side (a Concat onnxruntime folds at load), behind one
   * DequantizeLinear whose per-column scales repeat each tensor's scale.
   */
  function dqGroup(g: Graph, names: string[], outs: number[], inp: number): string {
    const codes = names.map((name, k) => {
      const qname = `${name}.int8`;
      if (!g.initializers.has(qname)) {
        g.init(qname, "int8", [inp, outs[k]], async () => {
          const scale = await weightScales.get(name);
          return bytesOf(quantizeWith(await src.read(name), scale, { rows: outs[k], cols: inp }));
        });
      }
      return qname;
    });
    const total = outs.reduce((a, b) => a + b, 0);
    const sname = `${names[0]}.group_scales`, zname = `${names[0]}.group_zero_points`;
    if (!g.initializers.has(sname)) {
      g.init(sname, "float32", [total], async () => {
        const col = new Float32Array(total);
        let at = 0;
        for (const [k, name] of names.entries()) {
          col.fill(await weightScales.get(name), at, at + outs[k]);
          at += outs[k];
        }
        return bytesOf(col);
      });
      g.init(zname, "int8", [total], () => new Uint8Array(total));
    }
    const cat = g.op("Concat", codes, { axis: 1 });
    return g.op("DequantizeLinear", [cat, sname, zname], { axis: 1 });
  }

  const scaleConst = (g: Graph, layer: number, point: QuantPoint, s: number) =>
    g.const("float32", [s], [], `layers.${layer}.${point}.act_scale`);

  function qdq(g: Graph, v: string, layer: number, point: QuantPoint, s: number): string {
    const sc = scaleConst(g, layer, point, s);
    const q = g.op("QuantizeLinear", [v, sc, zp(g)]);
    return g.op("DequantizeLinear", [q, sc, zp(g)]);
  }

  /**
   * Fake quantization in plain arithmetic, clip(round(v / s), -128, 127) · s (the same values
   * as a Q/DQ pair), for the scan's copy of u: a second QuantizeLinear of u would be merged by
   * onnxruntime's common-subexpression elimination with x_proj's, and a shared int8 input
   * keeps x_proj from its int8 kernel.
   */
  function fakeQ(g: Graph, v: string, layer: number, point: QuantPoint, s: number): string {
    const sc = scaleConst(g, layer, point, s);
    const q = g.op("Clip", [
      g.op("Round", [g.op("Div", [v, sc])]),
      g.scalar("float32", -128),
      g.scalar("float32", 127),
    ]);
    return g.op("Mul", [q, sc]);
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
    act(g, layer, name, value, channels) {
      const point = pointOf(name);
      if (!point) return value;
      let v = value;
      if (name === "x_proj.input" && smoothing) {
        v = g.op("Mul", [
          v,
          g.const(
            "float32",
            smoothing.xProjInput[layer],
            [channels],
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
              [channels],
              `backbone.layers.${layer}.mixer.out_proj.smooth_inv`,
            ),
          ]);
        }
        if (plan.spec.hadamardY) {
          v = hadamardOnnx(g, v, channels, g.name.endsWith("_decode") ? 2 : 3);
        }
      }
      if (!quantize) return v;
      if (plan.spec.dynamic) return POINT[name] ? dynamicQ(g, v) : v;
      const s = plan.layers[layer]?.scale[point];
      if (s === undefined) return v; // a floating-point block
      return name === "u" ? fakeQ(g, v, layer, point, s) : qdq(g, v, layer, point, s);
    },
    matmulWeight(g, prefix, out, inp) {
      if (!quantize || !isQuantizedWeight(plan, `${prefix}.weight`)) return undefined;
      return dqWeight(g, `${prefix}.weight`, [out, inp], true);
    },
    matmulWeightGroup(g, prefixes, outs, inp) {
      const names = prefixes.map((p) => `${p}.weight`);
      const q = names.map((n) => quantize && isQuantizedWeight(plan, n));
      if (q.every((x) => !x)) return undefined;
      if (!q.every((x) => x)) {
        throw new Error(`qdq: ${names.join(", ")} share an input but not a scale`);
      }
      return dqGroup(g, names, outs, inp);
    },
    param(g, name, dims) {
      if (!quantize || !isMixerParam(name) || !isQuantizedWeight(plan, name)) return undefined;
      return dqWeight(g, name, dims, false);
    },
  };
}
