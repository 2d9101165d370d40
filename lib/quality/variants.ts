/**
 * A method's int8 graphs with only some of its quantization points quantized: the same weight
 * transforms (Hadamard rotation, smoothing) and the same scales as the full method, with every
 * other point left in float32. Built from lib/quant/qdq.ts's hooks (one set quantizing, one with
 * `quantize: false` giving only the exact transforms), so a variant with every point selected is
 * the method's own graph.
 */
import { join } from "node:path";
import type { Checkpoint } from "../checkpoint.ts";
import { archOfConfig } from "../arch/registry.ts";
import type { GraphHooks } from "../arch/mamba/graph.ts";
import type { ActName } from "../arch/mamba/graph.ts";
import { type Model, OnnxModel } from "../model.ts";
import { writeModelFolder } from "../onnx/save.ts";
import type { Ep } from "../runtime.ts";
import type { StatsView } from "../stats/view.ts";
import { KitError } from "../errors.ts";
import { methodSpec } from "../quant/methods.ts";
import { planScales, type QuantPlan } from "../quant/plan.ts";
import { qdqHooks, WeightScales } from "../quant/qdq.ts";
import { type Transformed, transformWeights } from "../quant/transform.ts";
import { missingTokenizer } from "../tokenizer.ts";

/**
 * Which points a variant quantizes: an activation (ActName, e.g. `u`, `B`) or a mixer parameter
 * (`in_proj.weight`, `conv1d.bias`, `A_log`, ...) of a layer.
 */
export type PointFilter = (layer: number, point: string) => boolean;

/**
 * The parameter name after `.mixer.` and its layer, or undefined for other tensors.
 *
 * @example
 * ```ts
 * mixerParam("backbone.layers.3.mixer.in_proj.weight"); // { layer: 3, param: "in_proj.weight" }
 * ```
 */
export function mixerParam(name: string): { layer: number; param: string } | undefined {
  const m = /^backbone\.layers\.(\d+)\.mixer\.(.+)$/.exec(name);
  return m ? { layer: Number(m[1]), param: m[2] } : undefined;
}

/**
 * Graph hooks of a plan that quantize only the points `only` selects (the method's transforms
 * apply everywhere).
 *
 * @example
 * ```ts
 * const hooks = selectedHooks(t, plan, (layer, p) => layer === 1 && p === "y");
 * ```
 */
export function selectedHooks(t: Transformed, plan: QuantPlan, only: PointFilter): GraphHooks {
  const weightScales = new WeightScales(t.src);
  const q = qdqHooks(t.config, t.src, plan, { smoothing: t.smoothing, weightScales });
  const f = qdqHooks(t.config, t.src, plan, { smoothing: t.smoothing, quantize: false });
  const weight = (name: string) => {
    const p = mixerParam(name);
    return p !== undefined && only(p.layer, p.param);
  };
  return {
    act: (g, layer, name: ActName, v, c) => (only(layer, name) ? q : f).act!(g, layer, name, v, c),
    matmulWeight: (g, prefix, out, inp) =>
      weight(`${prefix}.weight`) ? q.matmulWeight!(g, prefix, out, inp) : undefined,
    param: (g, name, dims) => (weight(name) ? q.param!(g, name, dims) : undefined),
  };
}

/** What a variant is built from: the checkpoint and the statistics of its calibration. */
export interface VariantSource {
  ckpt: Checkpoint;
  stats: StatsView;
  /** Where variant folders are written (one at a time; each replaces the last). */
  workDir: string;
  ep?: Ep;
  threads?: number;
}

/**
 * Builds and opens a variant of `method` (scales from `stats` at `percentile`) that quantizes
 * only what `only` selects. Methods that rotate the residual stream (QuaRot) are not supported:
 * their scales need statistics of the rotated model.
 *
 * @example
 * ```ts
 * const m = await openVariant(src, "w8a8", { only: (l, p) => l === 0 && p === "u" });
 * ```
 */
export async function openVariant(
  src: VariantSource,
  method: string,
  options: { only: PointFilter; percentile?: number; name?: string },
): Promise<Model> {
  const spec = methodSpec(method);
  if (spec.rotateResidual || spec.dynamic) {
    throw new KitError(
      `variants of '${method}' are not supported (static, unrotated methods only)`,
    );
  }
  const t = await transformWeights(src.ckpt.config, src.ckpt.store, spec, src.stats);
  const plan = planScales(src.stats, spec, method, {
    percentile: options.percentile ?? 99.999,
    smoothing: t.smoothing,
  });
  const hooks = selectedHooks(t, plan, options.only);
  const opt = { weights: "float32", compute: "float32" } as const;
  const dir = join(src.workDir, "variant");
  await writeModelFolder(dir, {
    "prefill.onnx": archOfConfig(t.config).buildPrefill(t.config, t.src, opt, hooks),
    "decode.onnx": archOfConfig(t.config).buildDecode(t.config, t.src, opt, hooks),
  });
  return await OnnxModel.open(
    dir,
    {
      config: t.config,
      tokenizer: missingTokenizer(src.ckpt.dir),
      source: src.ckpt.dir,
      method: options.name ?? `${method} (selected points)`,
    },
    src.ep ?? "cpu",
    src.threads,
  );
}
