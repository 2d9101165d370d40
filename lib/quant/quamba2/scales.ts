/**
 * A Mamba-2 recipe's static activation scales from its calibration statistics
 * (lib/quant/quamba2/calibrate.ts): symmetric int8, scale = max(amax, 1e-5) / 127 as the authors'
 * min–max observers (enyac-group/Quamba, quamba/observer.py). Grouped scales are expanded to one
 * per channel (or state element), so that the graphs quantize every value by its group's scale
 * without reordering any weight (lib/quant/quamba2/reorder.ts).
 */
import { type Mamba2Config, mamba2Dims } from "../../arch/mamba2/config.ts";
import type { Mamba2Stats } from "./calibrate.ts";
import type { Mamba2Recipe } from "./recipes.ts";
import { groupChannels } from "./reorder.ts";

/** One layer's scales (per-channel ones expanded). */
export interface Mamba2LayerScales {
  inProjInput: number;
  z: number;
  dt: number;
  /** in_proj's x ‖ B ‖ C parts before the conv: one scale per part, repeated per channel [c] */
  xBC: Float32Array;
  /** the conv output's x [e] (its group's scale), B and C [g n] (their SSD group's) */
  u: Float32Array;
  B: Float32Array;
  C: Float32Array;
  /** the SSM state [h p n], when the recipe quantizes it */
  state?: Float32Array;
  /** the out_proj input (after the online Hadamard when the recipe rotates) */
  y: number;
  /** x's groups: per channel, its group (Quamba2's recipes) */
  groupOf?: Int32Array;
}

/** Every layer's scales and the lm_head input's. */
export interface Mamba2Scales {
  layers: Mamba2LayerScales[];
  lmHeadInput: number;
}

/** amax -> scale, as the authors' observers (amax floored at 1e-5). */
export const scaleOfAmax = (amax: number): number => Math.fround(Math.max(amax, 1e-5) / 127);

const maxOf = (a: ArrayLike<number>, from = 0, to = a.length) => {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, a[i]);
  return m;
};

/**
 * The scales of `recipe` from `stats`.
 *
 * @example
 * ```ts
 * const scales = planMamba2(config, stats, mamba2Recipe("quamba2-w8a8"));
 * scales.layers[0].u.length; // e
 * ```
 */
export function planMamba2(
  cfg: Mamba2Config,
  stats: Mamba2Stats,
  recipe: Mamba2Recipe,
): Mamba2Scales {
  const { e, g, n, h, p, c } = mamba2Dims(cfg);
  const layers = stats.layers.map((s): Mamba2LayerScales => {
    const xBC = new Float32Array(c);
    xBC.fill(scaleOfAmax(maxOf(s.xBC, 0, e)), 0, e);
    xBC.fill(scaleOfAmax(maxOf(s.xBC, e, e + g * n)), e, e + g * n);
    xBC.fill(scaleOfAmax(maxOf(s.xBC, e + g * n)), e + g * n);
    const perSsdGroup = (a: Float32Array) => {
      const out = new Float32Array(g * n);
      for (let q = 0; q < (recipe.groups ? g : 1); q++) {
        const [lo, hi] = recipe.groups ? [q * n, (q + 1) * n] : [0, g * n];
        out.fill(scaleOfAmax(maxOf(a, lo, hi)), lo, hi);
      }
      return out;
    };
    const u = new Float32Array(e);
    let state: Float32Array | undefined, groupOf: Int32Array | undefined;
    if (recipe.groups) {
      const groups = groupChannels(s.uMeanAbs, { h, p, g });
      groupOf = groups.group;
      const amax = new Float64Array(groups.count), st = new Float64Array(groups.count * n);
      for (let ch = 0; ch < e; ch++) {
        const G = groups.group[ch];
        amax[G] = Math.max(amax[G], s.u[ch]);
        for (let k = 0; k < n; k++) st[G * n + k] = Math.max(st[G * n + k], s.state[ch * n + k]);
      }
      for (let ch = 0; ch < e; ch++) u[ch] = scaleOfAmax(amax[groups.group[ch]]);
      if (recipe.stateInt8) {
        state = new Float32Array(h * p * n);
        for (let ch = 0; ch < e; ch++) {
          for (let k = 0; k < n; k++) state[ch * n + k] = scaleOfAmax(st[groups.group[ch] * n + k]);
        }
      }
    } else {
      u.fill(scaleOfAmax(maxOf(s.u)));
      if (recipe.stateInt8) state = new Float32Array(h * p * n).fill(scaleOfAmax(maxOf(s.state)));
    }
    return {
      inProjInput: scaleOfAmax(s.inProjInput),
      z: scaleOfAmax(s.z),
      dt: scaleOfAmax(s.dt),
      xBC,
      u,
      B: perSsdGroup(s.B),
      C: perSsdGroup(s.C),
      state,
      y: scaleOfAmax(recipe.rotate ? s.yHad : s.y),
      groupOf,
    };
  });
  return { layers, lmHeadInput: scaleOfAmax(stats.lmHeadInput) };
}
