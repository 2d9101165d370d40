/**
 * The quantization methods the kit builds: Quamba, its ablations and baselines.
 */
import { KitError } from "../errors.ts";
import { MAMBA2_RECIPES } from "./quamba2/recipes.ts";

const MAMBA2_DESCRIPTIONS = Object.fromEntries(
  Object.entries(MAMBA2_RECIPES).filter(([n]) => n !== "w8a8").map(([n, r]) => [n, r.description]),
);

/** What a method does. */
export interface MethodSpec {
  /** The SSM input u's scale from a percentile of |u| (per sample, EMA) instead of its max. */
  clipU: boolean;
  /** Rotate the out_proj input by an orthonormal Hadamard (out_proj weight W·Hᵀ offline). */
  hadamardY: boolean;
  /** SmoothQuant-SSM: per-channel smoothing (α = 0.5) at the four projections' inputs. */
  smooth: boolean;
  /** QuaRot: rotate the residual stream by a Hadamard over d_model. */
  rotateResidual: boolean;
  /** Per-token scales computed at run time instead of static ones. */
  dynamic: boolean;
  /**
   * Hybrid models: attention, router, expert and MLP projections stay floating point (only the
   * Mamba mixers are quantized); otherwise they are static per-tensor W8A8.
   */
  floatBlocks: boolean;
  /** The model types (config.json `model_type`) the method is built for. */
  archs: readonly string[];
  description: string;
}

const BOTH = ["mamba", "jamba"] as const;

const m = (spec: Partial<MethodSpec> & { description: string }): MethodSpec => ({
  clipU: false,
  hadamardY: false,
  smooth: false,
  rotateResidual: false,
  dynamic: false,
  floatBlocks: false,
  archs: BOTH,
  ...spec,
});

/** Every int8 method, by name. (fp32 and fp16 are precisions of `loadModel`.) */
export const METHODS: Record<string, MethodSpec> = {
  "w8a8": m({
    archs: ["mamba", "jamba", "mamba2"],
    description: "naive static W8A8: max-based per-tensor scales everywhere",
  }),
  "quamba": m({
    clipU: true,
    hadamardY: true,
    description:
      "Quamba: percentile clipping of the SSM input, Hadamard smoothing of the SSM output " +
      "(hybrids: attention, router, experts and MLPs static W8A8)",
  }),
  "quamba-mamba-only": m({
    clipU: true,
    hadamardY: true,
    floatBlocks: true,
    archs: ["jamba"],
    description:
      "Quamba on the Mamba mixers only; attention, router, experts and MLPs floating point",
  }),
  "quamba-clip": m({
    clipU: true,
    description: "Quamba's percentile clipping of the SSM input alone",
  }),
  "quamba-hadamard": m({
    hadamardY: true,
    description: "Quamba's Hadamard rotation of the SSM output alone",
  }),
  "smoothquant": m({
    smooth: true,
    archs: ["mamba"],
    description: "SmoothQuant-SSM (α = 0.5) at the projections' inputs, then static W8A8",
  }),
  "quarot": m({
    rotateResidual: true,
    archs: ["mamba"],
    hadamardY: true,
    description:
      "QuaRot-style Hadamard rotation of the residual stream and of the out_proj input, then static W8A8",
  }),
  "dynamic": m({
    dynamic: true,
    archs: ["mamba"],
    description: "per-token dynamic activation scales (an upper reference), int8 weights",
  }),
};

// Mamba-2's recipes (lib/quant/quamba2/recipes.ts builds them; w8a8 above is its baseline too)
for (const [name, description] of Object.entries(MAMBA2_DESCRIPTIONS)) {
  METHODS[name] = m({ archs: ["mamba2"], description });
}

/** Names of the methods, floating point first. */
export const METHOD_NAMES: string[] = ["fp32", "fp16", ...Object.keys(METHODS)];

/** The spec of an int8 method, or a clear error; with `modelType`, one built for it. */
export function methodSpec(name: string, modelType?: string): MethodSpec {
  const spec = METHODS[name];
  if (!spec) {
    throw new KitError(`unknown method '${name}' (known: ${METHOD_NAMES.join(", ")})`);
  }
  if (modelType !== undefined && !spec.archs.includes(modelType)) {
    throw new KitError(
      `method '${name}' is not built for model_type '${modelType}' (its methods: ${
        methodsFor(modelType).join(", ")
      })`,
    );
  }
  return spec;
}

/**
 * The methods (fp32, fp16 and the int8 ones) built for a model type.
 *
 * @example
 * ```ts
 * methodsFor("jamba"); // ["fp32", "fp16", "w8a8", "quamba", "quamba-mamba-only", ...]
 * ```
 */
export function methodsFor(modelType: string): string[] {
  return METHOD_NAMES.filter((n) => !METHODS[n] || METHODS[n].archs.includes(modelType));
}
