/**
 * Static activation scales of a method, from calibration statistics: which statistic sets each
 * scale (max, or Quamba's percentile for the SSM input), and the shared scales of the recipe.
 */
import type { StatsView } from "../stats/view.ts";
import type { TensorName } from "../stats/schema.ts";
import { scaleOf } from "./int8.ts";
import type { MethodSpec } from "./methods.ts";
import type { Smoothing } from "./transform.ts";

/** The quantized activations of a layer (x and z share one scale; so do dt_low, B and C). */
export const ACT_POINTS = [
  "in_proj.input",
  "xz",
  "u",
  "x_proj.input",
  "x_proj.output",
  "dt",
  "y",
] as const;
export type ActPoint = typeof ACT_POINTS[number];

/** Per layer: the amax each scale comes from, and the scale (amax / 127). */
export interface LayerScales {
  amax: Record<ActPoint, number>;
  scale: Record<ActPoint, number>;
}

/** Everything needed to build a method's graphs, besides the weights. */
export interface QuantPlan {
  method: string;
  percentile: number;
  spec: MethodSpec;
  layers: LayerScales[];
}

/**
 * Scales from statistics of the model the graphs compute (for QuaRot, of the rotated model).
 * With smoothing, the amax of X / s comes exactly from the per-channel amax of X.
 *
 * @example
 * ```ts
 * const plan = planScales(stats, methodSpec("quamba"), "quamba", { percentile: 99.999 });
 * plan.layers[0].scale.u; // p99.999 of |u| (EMA) / 127
 * ```
 */
export function planScales(
  stats: StatsView,
  spec: MethodSpec,
  method: string,
  options: { percentile: number; smoothing?: Smoothing },
): QuantPlan {
  const layers: LayerScales[] = [];
  let L = 0;
  while (stats.get(L, "u")) L++;
  for (let i = 0; i < L; i++) {
    const s = (t: TensorName) => {
      const v = stats.get(i, t);
      if (!v) throw new Error(`no statistics for layer ${i}, tensor ${t}`);
      return v;
    };
    const divided = (t: TensorName, f?: Float32Array) => {
      const ch = s(t).channelAbsmax;
      if (!f) return s(t).absmax;
      let m = 0;
      for (let c = 0; c < ch.length; c++) m = Math.max(m, ch[c] / f[c]);
      return m;
    };
    const k = s("u").emaPercentiles.indexOf(options.percentile);
    if (spec.clipU && k < 0) {
      throw new Error(`statistics lack the EMA of p${options.percentile} of u`);
    }
    const u = spec.clipU ? s("u").ema[k] : s("u").absmax;
    const f = options.smoothing?.factors[i];
    const amax: Record<ActPoint, number> = {
      "in_proj.input": divided("in_proj.input", f?.["in_proj.input"]),
      xz: Math.max(s("x").absmax, s("z").absmax),
      u,
      "x_proj.input": f ? divided("u", f["x_proj.input"]) : u,
      "x_proj.output": Math.max(
        divided("dt_low", f?.["dt_proj.input"]),
        s("B").absmax,
        s("C").absmax,
      ),
      dt: s("dt").absmax,
      y: f ? divided("y", f["out_proj.input"]) : spec.hadamardY ? s("y_had").absmax : s("y").absmax,
    };
    const scale = Object.fromEntries(ACT_POINTS.map((p) => [p, scaleOf(amax[p])])) as Record<
      ActPoint,
      number
    >;
    layers.push({ amax, scale });
  }
  return { method, percentile: options.percentile, spec, layers };
}
