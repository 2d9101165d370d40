/**
 * Seeded random weights of the right shapes for a config of any architecture (Mamba, Jamba): for
 * latency and memory measurements, which do not depend on the values. The values follow the
 * usual initialisation (small projections, A_log = log(1..n), D = 1, norms 1, dt around 0.01) so
 * activations stay finite.
 */
import { archOfConfig, type ModelConfig } from "./arch/registry.ts";
import { type MambaConfig, parseConfig } from "./arch/mamba/config.ts";
import type { WeightSource } from "./arch/mamba/graph.ts";

/** Architectures of the Mamba-1 family (state-spaces/mamba-*-hf). */
export const MAMBA_SHAPES: Record<string, { hidden_size: number; num_hidden_layers: number }> = {
  "mamba-130m": { hidden_size: 768, num_hidden_layers: 24 },
  "mamba-370m": { hidden_size: 1024, num_hidden_layers: 48 },
  "mamba-790m": { hidden_size: 1536, num_hidden_layers: 48 },
  "mamba-1.4b": { hidden_size: 2048, num_hidden_layers: 48 },
  "mamba-2.8b": { hidden_size: 2560, num_hidden_layers: 64 },
};

/** The config of a named architecture (vocab 50280, d_state 16, expand 2). */
export function shapeConfig(name: string): MambaConfig {
  const s = MAMBA_SHAPES[name];
  if (!s) {
    throw new Error(
      `unknown architecture '${name}' (known: ${Object.keys(MAMBA_SHAPES).join(", ")})`,
    );
  }
  return parseConfig(
    { model_type: "mamba", vocab_size: 50280, state_size: 16, expand: 2, ...s },
    name,
  );
}

/**
 * A weight source of seeded random values for `config`.
 *
 * @example
 * ```ts
 * const src = syntheticWeights(shapeConfig("mamba-130m"), 0);
 * const w = await src.read("backbone.layers.0.mixer.D"); // ones
 * ```
 */
export function syntheticWeights(config: ModelConfig, seed = 0): WeightSource {
  const arch = archOfConfig(config);
  const shapes = arch.expectedTensors(config);
  return {
    read(name: string): Promise<Float32Array> {
      const shape = shapes.get(name) ??
        (name === "lm_head.weight" ? shapes.get(arch.lmHead(config)) : undefined);
      if (!shape) throw new Error(`synthetic weights: no tensor '${name}'`);
      const n = shape.reduce((a, b) => a * b, 1);
      const x = new Float32Array(n);
      const leaf = name.split(".").slice(-2).join(".");
      if (name.endsWith("A_log")) {
        // Mamba-1 [e, d_state]: log(1..n) per channel; Mamba-2 [h]: log(1..h)
        for (let i = 0; i < n; i++) x[i] = Math.log(1 + (shape.length > 1 ? i % shape[1] : i));
      } else if (
        name.endsWith(".D") || name.endsWith("norm.weight") || name.endsWith("norm_f.weight")
      ) {
        x.fill(1);
      } else if (leaf === "dt_proj.bias" || leaf === "mixer.dt_bias") {
        x.fill(Math.log(Math.expm1(0.01)));
      } else {
        let s = (seed * 2654435761 + hash(name)) >>> 0;
        for (let i = 0; i < n; i++) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          x[i] = (s / 2 ** 32 - 0.5) * 0.04;
        }
      }
      return Promise.resolve(x);
    },
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
