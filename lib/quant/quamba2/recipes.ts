/**
 * The Mamba-2 recipes the kit builds: Quamba2's three (W8A8, W4A8, W4A16, as
 * enyac-group/Quamba codes them; docs/quamba2.md compares the two point by point) and two
 * baselines. `quantize`'s `recipe` option changes parts of one, for ablations.
 */
import { KitError } from "../../errors.ts";

/** What a Mamba-2 recipe does. */
export interface Mamba2Recipe {
  /** Weight bits of in_proj, out_proj and the lm_head: 8 (per tensor) or 4 (groups of 128). */
  wBits: 4 | 8;
  /** 8: static int8 activations (and conv1d, A, D int8); 16: activations floating point. */
  aBits: 8 | 16;
  /** 4-bit weights by GPTQ (else round-to-nearest). */
  gptq: boolean;
  /** Hadamard rotations: the residual stream (offline) and the out_proj input (online). */
  rotate: boolean;
  /** Quamba2's groups: x per (SSD group, head group, channel group), B and C per SSD group,
   * the SSM state per group and state dimension (else one scale per tensor). */
  groups: boolean;
  /** The SSM state a graph returns is int8 (else float). */
  stateInt8: boolean;
  description: string;
}

/** The recipes by method name. */
export const MAMBA2_RECIPES: Record<string, Mamba2Recipe> = {
  "quamba2-w8a8": {
    wBits: 8,
    aBits: 8,
    gptq: false,
    rotate: true,
    groups: true,
    stateInt8: true,
    description: "Quamba2 W8A8: Hadamard-rotated residual stream and out_proj input, per-segment " +
      "in_proj scales, x per head/channel group, B/C per SSD group, int8 SSM state per group",
  },
  "quamba2-w4a8": {
    wBits: 4,
    aBits: 8,
    gptq: true,
    rotate: true,
    groups: true,
    stateInt8: true,
    description: "Quamba2 W4A8: Quamba2 W8A8's activations, 4-bit GPTQ weights (groups of 128)",
  },
  "quamba2-w4a16": {
    wBits: 4,
    aBits: 16,
    gptq: true,
    rotate: true,
    groups: false,
    stateInt8: false,
    description: "Quamba2 W4A16: rotations, 4-bit GPTQ weights (groups of 128), activations float",
  },
  "w8a8": {
    wBits: 8,
    aBits: 8,
    gptq: false,
    rotate: false,
    groups: false,
    stateInt8: true,
    description: "naive static W8A8 for Mamba-2: Quamba2's quantization points, one max-based " +
      "scale per tensor, no rotation, no groups",
  },
  "w4a16-rtn": {
    wBits: 4,
    aBits: 16,
    gptq: false,
    rotate: false,
    groups: false,
    stateInt8: false,
    description: "4-bit round-to-nearest weights (groups of 128), no rotation: GPTQ's baseline",
  },
};

/**
 * The recipe of a Mamba-2 method, or an error naming the known ones.
 *
 * @example
 * ```ts
 * mamba2Recipe("quamba2-w8a8").groups; // true
 * ```
 */
export function mamba2Recipe(method: string): Mamba2Recipe {
  const r = MAMBA2_RECIPES[method];
  if (!r) {
    throw new KitError(
      `method '${method}' is not built for model_type 'mamba2' (its methods: fp32, fp16, ${
        Object.keys(MAMBA2_RECIPES).join(", ")
      })`,
    );
  }
  return r;
}

/** The parts of a recipe an ablation may change, and their types. */
const PARTS: Record<string, "boolean" | "bits" | "abits"> = {
  wBits: "bits",
  aBits: "abits",
  gptq: "boolean",
  rotate: "boolean",
  groups: "boolean",
  stateInt8: "boolean",
};

/**
 * Checks an ablation's changes to a Mamba-2 recipe (`quantize`'s `recipe` option), naming the
 * field that is wrong.
 *
 * @example
 * ```ts
 * checkRecipeChanges({ rotate: false }); // ok
 * ```
 */
export function checkRecipeChanges(changes: unknown): Partial<Mamba2Recipe> {
  if (!changes || typeof changes !== "object" || Array.isArray(changes)) {
    throw new KitError("recipe: expected an object such as { rotate: false }");
  }
  for (const [k, v] of Object.entries(changes)) {
    const kind = PARTS[k];
    if (!kind) {
      throw new KitError(`recipe: unknown part '${k}' (parts: ${Object.keys(PARTS).join(", ")})`);
    }
    const ok = kind === "boolean"
      ? typeof v === "boolean"
      : kind === "bits"
      ? v === 4 || v === 8
      : v === 8 || v === 16;
    if (!ok) {
      const want = kind === "boolean" ? "true or false" : kind === "bits" ? "4 or 8" : "8 or 16";
      throw new KitError(`recipe: '${k}' must be ${want}, got ${JSON.stringify(v)}`);
    }
  }
  return changes as Partial<Mamba2Recipe>;
}
