/**
 * Where the recipes quantize: the activation points (one static scale each per layer) and which
 * point quantizes the input of each projection, for the Mamba mixers of any model and for
 * hybrid models' attention, router, experts and MLPs. Weights are quantized exactly when the
 * activation at their projection's input is.
 */
import type { BlockActName } from "../onnx/hooks.ts";
import type { ActPoint } from "./plan.ts";

/**
 * A quantization point: a Mamba mixer's (ACT_POINTS of lib/quant/plan.ts) or a block's activation (the
 * attention input shared by q/k/v_proj, the o_proj input, the feed-forward input shared by the
 * router and every gate/up_proj, a down_proj input per dense MLP or expert).
 */
export type QuantPoint = ActPoint | BlockActName;

/** Points of attention and feed-forward blocks, besides the experts' down_proj inputs. */
export const BLOCK_POINTS = ["attn.input", "o_proj.input", "ffn.input", "down_proj.input"] as const;

/** Whether `name` is a block point (attention, feed-forward). */
export function isBlockPoint(name: string): name is BlockActName {
  return (BLOCK_POINTS as readonly string[]).includes(name) ||
    /^experts\.\d+\.down_proj\.input$/.test(name);
}

const MIXER_PROJ: Record<string, ActPoint> = {
  in_proj: "in_proj.input",
  x_proj: "x_proj.input",
  dt_proj: "x_proj.output",
  out_proj: "y",
};

/**
 * The point that quantizes the input of projection `prefix` (its checkpoint name without
 * `.weight`), or undefined for a projection no method quantizes (the lm_head).
 *
 * @example
 * ```ts
 * projectionInput("model.layers.1.self_attn.k_proj"); // "attn.input"
 * projectionInput("backbone.layers.0.mixer.out_proj"); // "y"
 * ```
 */
export function projectionInput(prefix: string): QuantPoint | undefined {
  const mixer = /\.(?:mixer|mamba)\.(in_proj|x_proj|dt_proj|out_proj)$/.exec(prefix);
  if (mixer) return MIXER_PROJ[mixer[1]];
  if (/\.self_attn\.[qkv]_proj$/.test(prefix)) return "attn.input";
  if (/\.self_attn\.o_proj$/.test(prefix)) return "o_proj.input";
  if (/\.feed_forward\.(?:experts\.\d+\.)?(?:router|gate_proj|up_proj)$/.test(prefix)) {
    return "ffn.input";
  }
  const expert = /\.feed_forward\.experts\.(\d+)\.down_proj$/.exec(prefix);
  if (expert) return `experts.${Number(expert[1])}.down_proj.input`;
  if (/\.feed_forward\.down_proj$/.test(prefix)) return "down_proj.input";
  return undefined;
}

/** Mixer parameters quantized per tensor besides the projections (same layout). */
export const QUANTIZED_PARAMS = ["conv1d.weight", "conv1d.bias", "A_log", "D", "dt_proj.bias"];

/** Whether `name` is a mixer parameter of QUANTIZED_PARAMS (`<prefix>.mixer.A_log`, ...). */
export function isMixerParam(name: string): boolean {
  return QUANTIZED_PARAMS.some((p) => name.endsWith(`.mixer.${p}`) || name.endsWith(`.mamba.${p}`));
}

/** The layer index in a tensor name (`...layers.{i}....`), or -1. */
export function layerOf(name: string): number {
  return Number(/layers\.(\d+)\./.exec(name)?.[1] ?? -1);
}
