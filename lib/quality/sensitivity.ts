/**
 * Per-tensor sensitivity and the paper's ablations, measured as KL from the fp32 model:
 *
 * - `sensitivity`: one group of quantization points of one layer at a time (everything else
 *   float32), for every group and layer: which tensor costs what, and where.
 * - `percentileAblation`: the full method with u's scale from each percentile of |u| (the EMA
 *   of per-sample percentiles, as Quamba), with the Hadamard rotation of y off (`quamba-clip`) and
 *   on (`quamba`), and the max-scale methods (`w8a8`, `quamba-hadamard`) for reference.
 *
 * The groups use the kit's recipe (lib/quant/plan.ts): dt_low, B and C share one scale (that of
 * x_proj's output), so quantizing B alone uses the shared scale, which is what B gets in the
 * method; `x_proj.output` quantizes all three at once.
 */
import { loadModel } from "../model.ts";
import type { BootstrapOptions, Estimate } from "./bootstrap.ts";
import { compareMethods, type MethodQuality } from "./compare.ts";
import { openVariant, type PointFilter, type VariantSource } from "./variants.ts";

/** A column of the sensitivity heat map: points of one layer, quantized with a method's scales. */
export interface SensitivityGroup {
  /** Column label. */
  name: string;
  /** Whose scales and transforms (w8a8: max scales, no rotation). */
  method: string;
  /** Activations (ActName) and mixer parameters (after `.mixer.`) quantized. */
  points: string[];
  description: string;
}

const g = (name: string, points: string[], description: string, method = "w8a8") => ({
  name,
  method,
  points,
  description,
});

/** The default columns: every activation and weight group with max scales, then Quamba's two. */
export const SENSITIVITY_GROUPS: SensitivityGroup[] = [
  g("in_proj.input", ["in_proj.input"], "the normalised block input"),
  g("x|z", ["x", "z"], "in_proj's output (x and z share a scale)"),
  g("u", ["u"], "the SSM input u as the scan reads it (max scale)"),
  g("x_proj.input", ["x_proj.input"], "u as x_proj reads it"),
  g("x_proj.output", ["dt_low", "B", "C"], "dt_low, B and C (one shared scale)"),
  g("dt_low", ["dt_low"], "dt_low alone (the shared scale)"),
  g("B", ["B"], "B alone (the shared scale)"),
  g("C", ["C"], "C alone (the shared scale)"),
  g("dt", ["dt"], "dt_proj's output"),
  g("y", ["y"], "the out_proj input y (max scale, no rotation)"),
  g("in_proj.W", ["in_proj.weight"], "in_proj's weight"),
  g("conv1d.W", ["conv1d.weight", "conv1d.bias"], "conv1d's weight and bias"),
  g("x_proj.W", ["x_proj.weight"], "x_proj's weight"),
  g("dt_proj.W", ["dt_proj.weight", "dt_proj.bias"], "dt_proj's weight and bias"),
  g("A, D", ["A_log", "D"], "A_log and D"),
  g("out_proj.W", ["out_proj.weight"], "out_proj's weight"),
  g("u · clipped", ["u"], "u with Quamba's percentile scale", "quamba-clip"),
  g("y · Hadamard", ["y"], "y after Quamba's Hadamard rotation", "quamba-hadamard"),
];

/** One cell of the heat map. */
export interface SensitivityRow {
  layer: number;
  group: string;
  method: string;
  /** Mean KL(fp32 ‖ variant) per token, nats. */
  kl: Estimate;
  /** 99th percentile of the per-token KL. */
  klP99: Estimate;
  top1: Estimate;
  nllDelta: Estimate;
}

export interface VariantRunOptions {
  /** Held-out token ids. */
  ids: number[];
  /** Tokens scored per variant; default 4096. */
  tokens?: number;
  window?: number;
  bootstrap?: BootstrapOptions;
  /** Percentile of |u| for clipping methods; default 99.999. */
  percentile?: number;
  log?: (line: string) => void;
}

/**
 * Compares each of `points` (one variant model each, opened by `variant`) with the fp32 model
 * of `src`, opened once; the results in the order of `points`, each with its point.
 */
async function compareVariants<P>(
  src: VariantSource,
  points: P[],
  options: VariantRunOptions & {
    label: (p: P) => string;
    variant: (p: P) => { method: string; only: PointFilter; percentile?: number };
  },
): Promise<{ point: P; quality: MethodQuality }[]> {
  const byLabel = new Map(points.map((p) => [options.label(p), p]));
  const ref = await loadModel(src.ckpt.dir, { ep: src.ep, threads: src.threads });
  try {
    const res = await compareMethods(ref, [...byLabel.keys()], {
      ids: options.ids,
      tokens: options.tokens ?? 4096,
      window: options.window,
      bootstrap: options.bootstrap,
      log: options.log,
      open: (name) => {
        const { method, ...rest } = options.variant(byLabel.get(name)!);
        return openVariant(src, method, { ...rest, name });
      },
    });
    return res.methods.map((quality) => ({ point: byLabel.get(quality.method)!, quality }));
  } finally {
    await ref.close();
  }
}

/**
 * The KL each group of points adds when it alone is quantized, per layer.
 *
 * @example
 * ```ts
 * const rows = await sensitivity(src, { ids, tokens: 4096 });
 * rows.find((r) => r.layer === 1 && r.group === "y")!.kl.value;
 * ```
 */
export async function sensitivity(
  src: VariantSource,
  options: VariantRunOptions & { groups?: SensitivityGroup[]; layers?: number[] },
): Promise<SensitivityRow[]> {
  const groups = options.groups ?? SENSITIVITY_GROUPS;
  const layers = options.layers ??
    Array.from({ length: src.ckpt.config.num_hidden_layers }, (_, i) => i);
  const cells = layers.flatMap((layer) => groups.map((group) => ({ layer, group })));
  const rows = await compareVariants(src, cells, {
    ...options,
    label: (c) => `L${c.layer} ${c.group.name}`,
    variant: ({ layer, group }) => ({
      method: group.method,
      only: (l, p) => l === layer && group.points.includes(p),
      percentile: options.percentile,
    }),
  });
  return rows.map(({ point: { layer, group }, quality: m }) => ({
    layer,
    group: group.name,
    method: group.method,
    kl: m.kl.mean,
    klP99: m.kl.p99,
    top1: m.top1,
    nllDelta: m.nllDelta,
  }));
}

/** Percentiles of |u| of the ablation (100: the EMA of each sample's max). */
export const ABLATION_PERCENTILES = [99.9, 99.95, 99.99, 99.995, 99.999, 99.9995, 100];

/** One point of the ablation curves. */
export interface AblationRow {
  /** The percentile of |u| that sets u's scale, or `absmax` (the max over all calibration). */
  percentile: number | "absmax";
  hadamard: boolean;
  method: string;
  kl: Estimate;
  top1: Estimate;
  nllDelta: Estimate;
}

/**
 * Quamba's ablation: KL of the full method against the percentile of u's scale, with the
 * Hadamard rotation of y off and on. The statistics must hold the EMA of every percentile
 * (collectStats's `emaPercentiles`).
 *
 * @example
 * ```ts
 * const rows = await percentileAblation(src, { ids, percentiles: [99.99, 99.999, 100] });
 * ```
 */
export async function percentileAblation(
  src: VariantSource,
  options: VariantRunOptions & { percentiles?: number[] },
): Promise<AblationRow[]> {
  const percentiles = options.percentiles ?? ABLATION_PERCENTILES;
  const points: Omit<AblationRow, "kl" | "top1" | "nllDelta">[] = [];
  for (const hadamard of [false, true]) {
    for (const p of percentiles) {
      points.push({ percentile: p, hadamard, method: hadamard ? "quamba" : "quamba-clip" });
    }
    points.push({ percentile: "absmax", hadamard, method: hadamard ? "quamba-hadamard" : "w8a8" });
  }
  const rows = await compareVariants(src, points, {
    ...options,
    label: (p) => `${p.method} @ ${p.percentile === "absmax" ? "absmax" : `p${p.percentile}`}`,
    variant: (p) => ({
      method: p.method,
      only: () => true,
      percentile: p.percentile === "absmax" ? options.percentile : p.percentile,
    }),
  });
  return rows.map(({ point, quality: m }) => ({
    ...point,
    kl: m.kl.mean,
    top1: m.top1,
    nllDelta: m.nllDelta,
  }));
}
