/**
 * The benchmark's graphs of Mamba-2's quantized recipes (lib/quant/quamba2): the recipe's hooks
 * with one fixed activation scale everywhere and round-to-nearest 4-bit weights (latency does not
 * depend on the values, nor on GPTQ), the recipe's rotations included (the online Hadamard of the
 * out_proj input is part of its cost). The projections' inputs are Q/DQ pairs before int8
 * weights, which onnxruntime runs as int8 MatMuls on the CPU EP; the other quantized points are
 * rounding arithmetic, as in the accuracy graphs.
 */
import type { Mamba2Config } from "../arch/mamba2/config.ts";
import { mamba2Dims } from "../arch/mamba2/config.ts";
import { buildMamba2Decode, buildMamba2Prefill } from "../arch/mamba2/graph.ts";
import type { Graph } from "../onnx/builder.ts";
import type { GraphOptions, WeightSource } from "../onnx/hooks.ts";
import { rotatedMamba2 } from "../quant/quamba2/build.ts";
import { fourBitWeights } from "../quant/quamba2/gptq_pass.ts";
import { quamba2Hooks } from "../quant/quamba2/hooks.ts";
import { mamba2Recipe } from "../quant/quamba2/recipes.ts";
import type { Mamba2Scales } from "../quant/quamba2/scales.ts";

/** Every scale `s` (the shapes of a config's layers). */
export function fixedMamba2Scales(cfg: Mamba2Config, s: number): Mamba2Scales {
  const { e, c, g, n, h, p } = mamba2Dims(cfg);
  const layers = Array.from({ length: cfg.num_hidden_layers }, () => ({
    inProjInput: s,
    z: s,
    dt: s,
    xBC: new Float32Array(c).fill(s),
    u: new Float32Array(e).fill(s),
    B: new Float32Array(g * n).fill(s),
    C: new Float32Array(g * n).fill(s),
    state: new Float32Array(h * p * n).fill(s),
    y: s,
  }));
  return { layers, lmHeadInput: s };
}

/**
 * A Mamba-2 recipe's prefill and decode graphs for timing.
 *
 * @example
 * ```ts
 * const g = await mamba2BenchGraphs(mamba2ShapeConfig("mamba2-130m"), src, "quamba2-w8a8", opt);
 * ```
 */
export async function mamba2BenchGraphs(
  cfg: Mamba2Config,
  base: WeightSource,
  method: string,
  opt: GraphOptions,
  scale: number,
): Promise<{ prefill: Graph; decode: Graph }> {
  const recipe = { ...mamba2Recipe(method), gptq: false };
  const { config, src } = await rotatedMamba2(cfg, base, recipe.rotate, method);
  const w4 = recipe.wBits === 4
    ? await fourBitWeights(config, src, { source: "", samples: [] }, {
      gptq: false,
      rotateY: recipe.rotate,
      progress: false,
    })
    : undefined;
  const hooks = quamba2Hooks(config, src, recipe, fixedMamba2Scales(config, scale), w4);
  return {
    prefill: buildMamba2Prefill(config, src, opt, hooks),
    decode: buildMamba2Decode(config, src, opt, hooks),
  };
}
