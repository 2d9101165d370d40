/**
 * Static activation scales of a method, from calibration statistics: which statistic sets each
 * scale (max, or Quamba's percentile for the SSM input), and the shared scales of the recipe.
 * Mamba mixers get ACT_POINTS; hybrid models' attention and feed-forward blocks get max-based
 * scales at their points (lib/quant/points.ts) unless the method keeps them floating point.
 */
import type { StatTensor } from "../stats/schema.ts";
import type { StatsView } from "../stats/view.ts";
import { scaleOf } from "./int8.ts";
import type { MethodSpec } from "./methods.ts";
import { BLOCK_POINTS } from "./points.ts";
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

/**
 * Per layer: the amax each scale comes from, and the scale (amax / 127), by point (ACT_POINTS
 * in a Mamba mixer, lib/quant/points.ts `QuantPoint`s in attention and feed-forward blocks);
 * a point without a scale stays floating point.
 */
export interface LayerScales {
  amax: Record<string, number>;
  scale: Record<string, number>;
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
  options: { percentile: number; smoothing?: Smoothing; layers?: number },
): QuantPlan {
  const layers: LayerScales[] = [];
  let L = options.layers ?? 0;
  if (options.layers === undefined) { while (stats.get(L, "u")) L++; }
  for (let i = 0; i < L; i++) {
    const amax: Record<string, number> = {};
    if (stats.get(i, "u")) Object.assign(amax, mixerAmax(stats, spec, i, options));
    if (!spec.floatBlocks) Object.assign(amax, blockAmax(stats, i));
    const scale = Object.fromEntries(Object.entries(amax).map(([p, a]) => [p, scaleOf(a)]));
    layers.push({ amax, scale });
  }
  return { method, percentile: options.percentile, spec, layers };
}

/** A Mamba mixer's amax per point of ACT_POINTS. */
function mixerAmax(
  stats: StatsView,
  spec: MethodSpec,
  i: number,
  options: { percentile: number; smoothing?: Smoothing },
): Record<ActPoint, number> {
  const s = (t: StatTensor) => {
    const v = stats.get(i, t);
    if (!v) throw new Error(`no statistics for layer ${i}, tensor ${t}`);
    return v;
  };
  const divided = (t: StatTensor, f?: Float32Array) => {
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
  return {
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
}

/**
 * Max-based amax of every attention and feed-forward point observed in layer `i` (none for a
 * Mamba-only model): static per-tensor W8A8.
 */
function blockAmax(stats: StatsView, i: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of BLOCK_POINTS) {
    const v = stats.get(i, p);
    if (v) out[p] = v.absmax;
  }
  for (let j = 0;; j++) {
    const v = stats.get(i, `experts.${j}.down_proj.input`);
    if (!v) break;
    out[`experts.${j}.down_proj.input`] = v.absmax;
  }
  return out;
}
