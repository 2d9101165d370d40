/**
 * A plain TypeScript fake-quantization reference of a method, on the architecture's float64
 * reference (lib/arch/mamba/reference.ts, lib/arch/jamba/reference.ts): the same transforms, the same int8
 * rounding (lib/quant/int8.ts) at the same activations and weights as the QDQ graphs, one token
 * at a time. Tests compare the graphs' logits with it.
 */
import { archOfConfig, type ModelConfig, type ReferenceModel } from "../arch/registry.ts";
import type { ReferenceHooks } from "../arch/types.ts";
import { hadamardRows } from "../hadamard.ts";
import type { ActName, WeightSource } from "../arch/mamba/graph.ts";
import { dequantize, fakeQuant, quantizeTensor } from "./int8.ts";
import type { QuantPlan } from "./plan.ts";
import { isQuantizedWeight, POINT, pointOf } from "./qdq.ts";
import type { Smoothing } from "./transform.ts";

/**
 * The reference model of a method's graphs (`quantize: false`: of its float model).
 *
 * @example
 * ```ts
 * const t = await transformWeights(cfg, ckpt.src, spec, stats);
 * const ref = await fakeQuantReference(t.config, t.src, plan, { smoothing: t.smoothing });
 * ref.forward(ids).logits;
 * ```
 */
export async function fakeQuantReference(
  config: ModelConfig,
  src: WeightSource,
  plan: QuantPlan,
  options: {
    smoothing?: Smoothing;
    quantize?: boolean;
    /** Quantize only the points it selects: activations by ActName, mixer parameters by their
     * name after `.mixer.` (`in_proj.weight`, `A_log`, ...); default all. */
    only?: (layer: number, point: string) => boolean;
    /** Hybrid models: computes the block projections another way (e.g. LLM.int8). */
    linear?: ReferenceHooks["linear"];
  } = {},
): Promise<ReferenceModel> {
  const quantize = options.quantize ?? true;
  const selected = (name: string) => {
    if (!options.only) return true;
    const m = /layers\.(\d+)\.(?:mixer|mamba)\.(.+)$/.exec(name);
    return m !== null && options.only(Number(m[1]), m[2]);
  };
  const weights: WeightSource = {
    async read(name) {
      const x = await src.read(name);
      if (!quantize || !isQuantizedWeight(plan, name) || !selected(name)) return x;
      const { q, scale } = quantizeTensor(x);
      return dequantize(q, scale);
    },
  };
  return await archOfConfig(config).reference(config, weights, {
    linear: options.linear,
    act(layer: number, name: ActName, v: Float64Array): Float64Array {
      const point = pointOf(name);
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
        if (plan.spec.hadamardY) {
          x = Float64Array.from(hadamardRows(Float32Array.from(x), x.length));
        }
      }
      if (!quantize || (options.only && !options.only(layer, name))) return x;
      if (plan.spec.dynamic) {
        if (!POINT[name]) return x;
        let amax = 0;
        for (const a of x) amax = Math.max(amax, Math.abs(Math.fround(a)));
        const s = Math.max(Math.fround(amax / 127), 1e-12);
        return x.map((a) => fakeQuant(a, s));
      }
      const s = plan.layers[layer]?.scale[point];
      if (s === undefined) return x;
      return x.map((a) => fakeQuant(a, s));
    },
  });
}
