/**
 * A Mamba-2 recipe from a checkpoint to its quantized graphs: the recipe's rotations (the
 * residual stream offline, lib/quant/transform.ts `rotateResidual`; out_proj's weight W Hᵀ for
 * the online Hadamard of its input), calibration (activation scales, for aBits 8), 4-bit weights
 * (GPTQ or round-to-nearest, for wBits 4), then the prefill and decode graphs with the recipe's
 * hooks. lib/quant/quantize.ts writes them into a quantized folder.
 */
import type { Mamba2Config } from "../../arch/mamba2/config.ts";
import { buildMamba2Decode, buildMamba2Prefill } from "../../arch/mamba2/graph.ts";
import type { CalibrationSet } from "../../calibration.ts";
import { hadamardPlan, hadamardRows } from "../../hadamard.ts";
import { KitError } from "../../errors.ts";
import type { Graph } from "../../onnx/builder.ts";
import type { WeightSource } from "../../onnx/hooks.ts";
import type { Ep } from "../../runtime.ts";
import { OverriddenWeights, rotateResidual } from "../transform.ts";
import { calibrateMamba2 } from "./calibrate.ts";
import { fourBitWeights } from "./gptq_pass.ts";
import { quamba2Hooks } from "./hooks.ts";
import { type Mamba2Recipe, mamba2Recipe } from "./recipes.ts";
import { type Mamba2Scales, planMamba2 } from "./scales.ts";

/** What the quantized folder is written from. */
export interface BuiltMamba2 {
  config: Mamba2Config;
  prefill: Graph;
  decode: Graph;
  /** The activation scales (none for aBits 16). */
  scales?: Mamba2Scales;
}

/** The recipe's float model: rotations applied (exact in real arithmetic). */
export async function rotatedMamba2(
  cfg: Mamba2Config,
  base: WeightSource,
  rotate: boolean,
  method = "the recipe",
): Promise<{ config: Mamba2Config; src: WeightSource }> {
  if (!rotate) return { config: cfg, src: base };
  checkRotations(cfg, method);
  const src = new OverriddenWeights(base);
  await rotateResidual(src, base, cfg);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    src.map(
      `backbone.layers.${i}.mixer.out_proj.weight`,
      (W) => hadamardRows(W, cfg.intermediate_size),
    );
  }
  return { config: { ...cfg, tie_word_embeddings: false }, src };
}

/**
 * Builds a Mamba-2 method's graphs. `calib` sets the activation scales; `gptqCalib` (default
 * `calib`) the GPTQ Hessians.
 *
 * @example
 * ```ts
 * const built = await buildMamba2Method(cfg, ckpt.src, "quamba2-w8a8", calib);
 * ```
 */
export async function buildMamba2Method(
  cfg: Mamba2Config,
  base: WeightSource,
  method: string,
  calib: CalibrationSet,
  options: {
    gptqCalib?: CalibrationSet;
    /** Parts of the recipe changed (ablations), e.g. `{ rotate: false }`. */
    recipe?: Partial<Mamba2Recipe>;
    ep?: Ep;
    threads?: number;
    progress?: boolean;
  } = {},
): Promise<BuiltMamba2> {
  const recipe = { ...mamba2Recipe(method), ...options.recipe };
  const { config, src } = await rotatedMamba2(cfg, base, recipe.rotate, method);
  const run = { ep: options.ep, threads: options.threads, progress: options.progress };
  const scales = recipe.aBits === 8
    ? planMamba2(config, await calibrateMamba2(config, src, calib, run), recipe)
    : undefined;
  const w4 = recipe.wBits === 4
    ? await fourBitWeights(config, src, options.gptqCalib ?? calib, {
      gptq: recipe.gptq,
      rotateY: recipe.rotate,
      ...run,
    })
    : undefined;
  const hooks = quamba2Hooks(config, src, recipe, scales ?? { layers: [], lmHeadInput: 1 }, w4);
  const opt = { weights: "float32", compute: "float32", scan: "parallel" } as const;
  return {
    config,
    prefill: buildMamba2Prefill(config, src, opt, hooks),
    decode: buildMamba2Decode(config, src, opt, hooks),
    scales,
  };
}

/** The rotations need Hadamard orders for d and d_inner: a clear error before any work. */
function checkRotations(cfg: Mamba2Config, method: string): void {
  for (const [what, n] of [["hidden_size", cfg.hidden_size], ["d_inner", cfg.intermediate_size]]) {
    try {
      hadamardPlan(n as number);
    } catch (e) {
      throw new KitError(
        `${method} rotates by Hadamard matrices of order ${what} = ${n}: ${(e as Error).message} ` +
          `(the recipe without its rotations: recipe { rotate: false }, --recipe rotate=false)`,
      );
    }
  }
}
