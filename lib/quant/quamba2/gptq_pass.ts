/**
 * 4-bit weights of a Mamba-2 model's in_proj, out_proj and lm_head (symmetric, groups of 128):
 * round-to-nearest, or GPTQ as the authors run it (enyac-group/Quamba, modelutils_mamba.py
 * `apply_gptq`): layer by layer, each layer's inputs coming from the layers before it with
 * their 4-bit weights already in place (activations floating point), the in_proj and out_proj
 * Hessians of a layer collected in one pass, then the lm_head on the final norm's output;
 * damping 0.01, block = group = 128, no act-order. Σ x xᵀ is computed by onnxruntime in the
 * observation graph (a MatMul of the activations with themselves), summed here in float64.
 */
import { join } from "node:path";
import { type Mamba2Config, mamba2Dims } from "../../arch/mamba2/config.ts";
import { buildMamba2Prefill } from "../../arch/mamba2/graph.ts";
import { mamba2StateLayout } from "../../arch/mamba2/mod.ts";
import type { CalibrationSet } from "../../calibration.ts";
import { hadamardOnnx } from "../../onnx/hadamard_op.ts";
import type { WeightSource } from "../../onnx/hooks.ts";
import { writeModelFolder } from "../../onnx/save.ts";
import { Progress } from "../../progress.ts";
import { createSession, type Ep, Tensor } from "../../runtime.ts";
import { zeroState } from "../../state.ts";
import { kitTempDir } from "../../temp.ts";
import { dequantize, type GroupQuantized, quantizeGptq, quantizeRtn } from "../gptq.ts";
import { OverriddenWeights } from "../transform.ts";
import { headPrefix } from "./hooks.ts";

/** The projections quantized to 4 bits, in the order GPTQ visits them. */
function projections(cfg: Mamba2Config): { prefix: string; layer: number; point: string }[] {
  const out = [];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    out.push({ prefix: `backbone.layers.${i}.mixer.in_proj`, layer: i, point: "in_proj.input" });
    out.push({ prefix: `backbone.layers.${i}.mixer.out_proj`, layer: i, point: "y" });
  }
  out.push({ prefix: headPrefix(cfg), layer: cfg.num_hidden_layers, point: "lm_head.input" });
  return out;
}

export interface FourBitOptions {
  gptq: boolean;
  /** The out_proj input is rotated online (the recipe's out_proj weights are W Hᵀ). */
  rotateY: boolean;
  group?: number;
  ep?: Ep;
  threads?: number;
  progress?: boolean;
}

/**
 * The 4-bit weights by projection prefix (`calib` is used by GPTQ only).
 *
 * @example
 * ```ts
 * const w4 = await fourBitWeights(cfg, src, calib, { gptq: true, rotateY: true });
 * ```
 */
export async function fourBitWeights(
  cfg: Mamba2Config,
  src: WeightSource,
  calib: CalibrationSet,
  options: FourBitOptions,
): Promise<Map<string, GroupQuantized>> {
  const { d, e, v } = mamba2Dims(cfg), group = options.group ?? 128;
  const grid = { bits: 4, group, symmetric: true };
  const dims = (prefix: string): [number, number] =>
    prefix.endsWith("in_proj")
      ? [e + mamba2Dims(cfg).c + cfg.num_heads, d]
      : prefix.endsWith("out_proj")
      ? [d, e]
      : [v, d];
  const out = new Map<string, GroupQuantized>();
  const projs = projections(cfg);
  if (!options.gptq) {
    for (const { prefix } of projs) {
      const [o, i] = dims(prefix);
      out.set(prefix, quantizeRtn(await src.read(`${prefix}.weight`), o, i, grid));
    }
    return out;
  }
  const current = new OverriddenWeights(src);
  const bar = options.progress === false
    ? undefined
    : new Progress("GPTQ", (cfg.num_hidden_layers + 1) * calib.samples.length);
  try {
    for (let layer = 0; layer <= cfg.num_hidden_layers; layer++) {
      const mine = projs.filter((p) => p.layer === layer);
      const H = await hessians(cfg, current, calib, layer, mine.map((p) => p.point), options, bar);
      for (const p of mine) {
        const [o, i] = dims(p.prefix);
        const q = quantizeGptq(await src.read(`${p.prefix}.weight`), o, i, H.get(p.point)!, grid);
        out.set(p.prefix, q);
        const deq = dequantize(q);
        current.set(`${p.prefix}.weight`, () => Promise.resolve(deq));
      }
    }
  } finally {
    bar?.done();
  }
  return out;
}

/** Σ x xᵀ of the named inputs of layer `layer` over the calibration samples. */
async function hessians(
  cfg: Mamba2Config,
  src: WeightSource,
  calib: CalibrationSet,
  layer: number,
  points: string[],
  options: FourBitOptions,
  bar?: Progress,
): Promise<Map<string, Float64Array>> {
  // only the layers up to this one run (the lm_head's pass runs them all)
  const upTo = { ...cfg, num_hidden_layers: Math.min(cfg.num_hidden_layers, layer + 1) };
  const graph = buildMamba2Prefill(upTo, src, {
    weights: "float32",
    compute: "float32",
    scan: "parallel",
  }, {
    act(g, i, name, value, channels) {
      if (name === "y" && options.rotateY) value = hadamardOnnx(g, value, channels, 3);
      if (i === layer && points.includes(name)) {
        const x = g.op("Reshape", [value, g.const("int64", [-1, channels])]);
        const xtx = g.op("MatMul", [g.op("Transpose", [x], { perm: [1, 0] }), x]);
        g.output(xtx, "float32", [channels, channels], `xtx.${name}`);
      }
      return value;
    },
  });
  const dir = await kitTempDir("gptq");
  const H = new Map<string, Float64Array>();
  try {
    await writeModelFolder(join(dir, "g"), { "prefill.onnx": graph });
    const session = await createSession(join(dir, "g", "prefill.onnx"), options.ep ?? "cpu", {
      threads: options.threads,
    });
    try {
      for (const ids of calib.samples) {
        const feeds: Record<string, Tensor> = {};
        for (const [k, t] of Object.entries(zeroState(mamba2StateLayout(upTo), 1).tensors)) {
          feeds[`past_${k}`] = t;
        }
        feeds.input_ids = new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]);
        const out = await session.run(feeds);
        for (const name of points) {
          const x = out[`xtx.${name}`].data as Float32Array;
          let acc = H.get(name);
          if (!acc) H.set(name, acc = new Float64Array(x.length));
          for (let k = 0; k < x.length; k++) acc[k] += x[k];
        }
        bar?.tick(1, `layer ${layer}`);
      }
    } finally {
      await session.release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return H;
}
