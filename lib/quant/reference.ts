/**
 * A plain TypeScript fake-quantization reference of a method, on lib/reference.ts: the same
 * transforms, the same int8 rounding (lib/quant/int8.ts) at the same activations and weights as
 * the QDQ graphs, one token at a time. Tests compare the graphs' logits with it.
 */
import { expectedTensors } from "../checkpoint.ts";
import type { MambaConfig } from "../config.ts";
import { hadamardRows } from "../hadamard.ts";
import type { ActName, WeightSource } from "../mamba_onnx.ts";
import { ReferenceMamba } from "../reference.ts";
import { dequantize, fakeQuant, quantizeTensor } from "./int8.ts";
import type { QuantPlan } from "./plan.ts";
import { POINT, PROJECTIONS, QUANTIZED_PARAMS } from "./qdq.ts";
import type { Smoothing } from "./transform.ts";

/**
 * The reference model of a method's graphs (`quantize: false`: of its float model).
 *
 * @example
 * ```ts
 * const t = await transformWeights(cfg, ckpt.store, spec, stats);
 * const ref = await fakeQuantReference(t.config, t.src, plan, { smoothing: t.smoothing });
 * ref.forward(ids).logits;
 * ```
 */
export async function fakeQuantReference(
  config: MambaConfig,
  src: WeightSource,
  plan: QuantPlan,
  options: {
    smoothing?: Smoothing;
    quantize?: boolean;
    /** Quantize only the points it selects: activations by ActName, mixer parameters by their
     * name after `.mixer.` (`in_proj.weight`, `A_log`, ...); default all. */
    only?: (layer: number, point: string) => boolean;
  } = {},
): Promise<ReferenceMamba> {
  const quantize = options.quantize ?? true, e = config.intermediate_size;
  const w = new Map<string, Float32Array>();
  const names = [...expectedTensors(config).keys()];
  for (const name of names) {
    const x = await src.read(name);
    const m = /^backbone\.layers\.(\d+)\.mixer\.(.+)$/.exec(name);
    const q = quantize &&
      [...PROJECTIONS.map((p) => `${p}.weight`), ...QUANTIZED_PARAMS].some((p) =>
        name.endsWith(`.mixer.${p}`)
      ) && (!options.only || (m !== null && options.only(Number(m[1]), m[2])));
    w.set(name, q ? (({ q, scale }) => dequantize(q, scale))(quantizeTensor(x)) : x);
  }
  if (config.tie_word_embeddings) w.set("lm_head.weight", w.get("backbone.embeddings.weight")!);
  return new ReferenceMamba(config, w, {
    act(layer: number, name: ActName, v: Float64Array): Float64Array {
      const point = POINT[name];
      if (!point) return v;
      let x = v;
      if (name === "x_proj.input" && options.smoothing) {
        const inv = options.smoothing.xProjInput[layer];
        x = x.map((a, c) => Math.fround(Math.fround(a) * inv[c]));
      }
      if (name === "y") {
        if (options.smoothing) {
          const inv = options.smoothing.outProjInput[layer];
          x = x.map((a, c) => Math.fround(Math.fround(a) * inv[c]));
        }
        if (plan.spec.hadamardY) x = Float64Array.from(hadamardRows(Float32Array.from(x), e));
      }
      if (!quantize || (options.only && !options.only(layer, name))) return x;
      if (plan.spec.dynamic) {
        let amax = 0;
        for (const a of x) amax = Math.max(amax, Math.abs(Math.fround(a)));
        const s = Math.max(Math.fround(amax / 127), 1e-12);
        return x.map((a) => fakeQuant(a, s));
      }
      const s = plan.layers[layer].scale[point];
      return x.map((a) => fakeQuant(a, s));
    },
  });
}
