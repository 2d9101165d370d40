/**
 * The graphs the latency benchmark runs, per model size and method, built once and cached:
 * seeded random weights of a family shape (lib/synthetic.ts) or a checkpoint's weights, in
 * float32, float16, or int8 QDQ form with fixed activation scales (speed does not depend on the
 * values, so no calibration is needed; the int8 outputs of a real checkpoint are then not
 * meaningful, only their timing).
 */
import { join } from "node:path";
import { cacheRoot, GRAPH_VERSION } from "../cache.ts";
import { archOfConfig, type ModelConfig } from "../arch/registry.ts";
import { exists } from "../fsutil.ts";
import type { WeightSource } from "../arch/mamba/graph.ts";
import { graphOptions } from "../model.ts";
import type { Ep } from "../runtime.ts";
import { nbitsHooks } from "../quant/nbits.ts";
import type { Graph } from "../onnx/builder.ts";
import { writeModelFolder } from "../onnx/save.ts";
import { foldParamDequant } from "../quant/fold_params.ts";
import { int8Head } from "../quant/head8.ts";
import { methodSpec } from "../quant/methods.ts";
import { ACT_POINTS, type QuantPlan } from "../quant/plan.ts";
import { BLOCK_POINTS } from "../quant/points.ts";
import { qdqHooks } from "../quant/qdq.ts";
import { transformWeights } from "../quant/transform.ts";
import { Progress } from "../progress.ts";
import { KitError } from "../errors.ts";
import { asMambaConfig } from "../arch/mamba/config.ts";
import { fourBitWeights } from "../quant/quamba2/gptq_pass.ts";
import { nbits4Hooks } from "../quant/nbits4.ts";
import { lastLogitsOnly } from "./last_logits.ts";
import { mamba2BenchGraphs } from "./mamba2_graphs.ts";
import { MAMBA2_RECIPES } from "../quant/quamba2/recipes.ts";
import { addNextToken } from "../onnx/next_token.ts";
import type { GraphOptions } from "../onnx/hooks.ts";

/** Bump when the benchmark's graphs change (on top of the kit's GRAPH_VERSION). */
export const BENCH_GRAPH_VERSION = "4";

/** The methods the benchmark builds. */
export const BENCH_METHODS: Record<string, string> = {
  fp32: "float32 weights and compute",
  fp16: "float16 weights (the CPU EP computes in float32)",
  quamba: "Quamba W8A8 (percentile-clipped u, Hadamard y); lm_head and embedding float32",
  w8a8: "static W8A8, per-tensor scales; lm_head and embedding float32",
  "quamba-mamba-only": "hybrids (Jamba): Quamba W8A8 on the Mamba mixers, attention, router, " +
    "experts and MLPs float32",
  "quamba-head8": "Quamba W8A8 plus an int8 lm_head (MatMulNBits: 8-bit weights and int8 " +
    "activations per block of 32, dynamic scales) and int8 embedding: not Quamba's recipe",
  "quamba-nbits": "Quamba's Hadamard-rotated out_proj; every projection and the lm_head as " +
    "MatMulNBits (8-bit weights per block of 32, activations quantized to int8 per block at run " +
    "time: DP4A on WebGPU): the GPU's int8 path, dynamic activation scales, not Quamba's recipe",
  "quamba2-w8a8": "Mamba-2: Quamba2's W8A8 (int8 in_proj, out_proj, lm_head; the other points " +
    "rounded in float32, as in lib/quant/quamba2)",
  "quamba2-w4a8": "Mamba-2: Quamba2's W4A8 (4-bit MatMulNBits projections after int8 rounding)",
  "quamba2-w4a16": "Mamba-2: Quamba2's W4A16 (rotations, 4-bit MatMulNBits projections)",
  "w4a16-rtn": "Mamba-2: 4-bit MatMulNBits projections, round-to-nearest, no rotation",
  w4a16: "Mamba-2: in_proj, out_proj and the lm_head as 4-bit MatMulNBits (groups of 128), " +
    "activations and the rest fp16 (fp32 on the CPU): the kernels of Quamba2's W4A16",
};

/** The fixed activation scale of every quantized point (latency does not depend on it). */
export const FIXED_ACT_SCALE = 0.05;

/**
 * A plan with the same fixed scale everywhere (latency does not depend on the values): every
 * mixer point, and for a hybrid config (given instead of a layer count) every block point and
 * expert, in every layer (points a layer does not have are never looked up).
 */
export function fixedPlan(
  method: string,
  layers: number | ModelConfig,
  scale = FIXED_ACT_SCALE,
): QuantPlan {
  const points: string[] = [...ACT_POINTS];
  const spec = methodSpec(method, typeof layers === "number" ? undefined : layers.model_type);
  if (typeof layers !== "number" && layers.model_type === "jamba" && !spec.floatBlocks) {
    points.push(...BLOCK_POINTS);
    for (let j = 0; j < layers.num_experts; j++) points.push(`experts.${j}.down_proj.input`);
  }
  const s = Object.fromEntries(points.map((p) => [p, scale]));
  const n = typeof layers === "number" ? layers : layers.num_hidden_layers;
  return {
    method,
    percentile: 99.999,
    spec,
    layers: Array.from({ length: n }, () => ({ amax: s, scale: s })),
  };
}

/** Checks a benchmark method name. */
export function checkMethod(method: string): void {
  if (!(method in BENCH_METHODS)) {
    throw new KitError(
      `unknown method '${method}' (known: ${Object.keys(BENCH_METHODS).join(", ")})`,
    );
  }
}

/** The prefill and decode graphs of a method (not yet written). */
export async function benchGraphs(
  config: ModelConfig,
  src: WeightSource,
  method: string,
  options: GraphVariant = {},
): Promise<{ prefill: Graph; decode: Graph }> {
  const g = await methodGraphs(config, src, method, options.ep ?? "cpu", options.scan);
  if (options.lastLogits ?? true) lastLogitsOnly(g.prefill);
  // the greedy token chosen in the graphs, for the device loop (lib/device_loop.ts)
  addNextToken(g.prefill);
  addNextToken(g.decode);
  if (options.foldParams ?? true) {
    foldParamDequant(g.prefill);
    foldParamDequant(g.decode);
  }
  return g;
}

/** Options of the benchmark's graphs besides the method. */
export interface GraphVariant {
  /** The prefill computes the last position's logits only (default true). */
  lastLogits?: boolean;
  /** int8 parameters that feed no int8 kernel (conv1d, A_log, D, dt bias) are stored
   * dequantized, the same values, instead of dequantized at every run (default true). */
  foldParams?: boolean;
  /** The EP the graphs are for: GPU EPs get the parallel scan and float16 compute for fp16. */
  ep?: Ep;
  /** The mixers' scan instead of the EP's default (`fused`: onnxruntime's CausalConvWithState
   * and LinearAttention, lib/onnx/fused_mixer.ts). */
  scan?: GraphOptions["scan"];
}

async function methodGraphs(
  config: ModelConfig,
  src: WeightSource,
  method: string,
  ep: Ep,
  scan?: GraphOptions["scan"],
): Promise<{ prefill: Graph; decode: Graph }> {
  checkMethod(method);
  const arch = archOfConfig(config);
  if (method === "fp32" || method === "fp16") {
    const opt = graphOptions(method, ep, scan, config);
    return {
      prefill: arch.buildPrefill(config, src, opt),
      decode: arch.buildDecode(config, src, opt),
    };
  }
  if (method === "w4a16") {
    if (config.model_type !== "mamba2") {
      throw new KitError(`bench method 'w4a16' is built for Mamba-2 only`);
    }
    // the projections as 4-bit MatMulNBits (round-to-nearest: latency does not depend on the
    // values), the rest as fp16 on GPU EPs (fp32 on the CPU, as fp16 there)
    const opt = graphOptions("fp16", ep, scan, config);
    const w4 = await fourBitWeights(config, src, { source: "", samples: [] }, {
      gptq: false,
      rotateY: false,
      progress: false,
    });
    const hooks = nbits4Hooks(w4, { float16: opt.compute === "float16" });
    return {
      prefill: arch.buildPrefill(config, src, opt, hooks),
      decode: arch.buildDecode(config, src, opt, hooks),
    };
  }
  if (config.model_type === "mamba2") {
    if (!(method in MAMBA2_RECIPES)) {
      throw new KitError(
        `bench method '${method}' is not built for Mamba-2 (its methods: fp32, fp16, w4a16, ${
          Object.keys(MAMBA2_RECIPES).join(", ")
        })`,
      );
    }
    const opt = { ...graphOptions("fp32", ep, scan, config) };
    return await mamba2BenchGraphs(config, src, method, opt, FIXED_ACT_SCALE);
  }
  if (method === "quamba-head8" && config.model_type !== "mamba") {
    throw new KitError(`bench method 'quamba-head8' is built for Mamba only`);
  }
  const base = method === "quamba-head8" || method === "quamba-nbits" ? "quamba" : method;
  // (quamba-nbits on a hybrid: every projection MatMulNBits, the Hadamard on the mixers)
  const t = await transformWeights(config, src, methodSpec(base, config.model_type));
  const plan = fixedPlan(base, config);
  const opt = {
    weights: "float32",
    compute: "float32",
    scan: graphOptions("fp32", ep, scan, config).scan,
  } as const;
  // quamba-nbits: the exact transforms only (the Hadamard of y), then MatMulNBits projections
  const hooks = method === "quamba-nbits"
    ? { ...qdqHooks(t.config, t.src, plan, { quantize: false }), ...nbitsHooks(t.config, t.src) }
    : qdqHooks(t.config, t.src, plan);
  const prefill = arch.buildPrefill(t.config, t.src, opt, hooks);
  const decode = arch.buildDecode(t.config, t.src, opt, hooks);
  if (method === "quamba-head8") {
    const mamba = asMambaConfig(t.config, "quamba-head8");
    int8Head(prefill, mamba, t.src, { accuracyLevel: 4 });
    int8Head(decode, mamba, t.src, { accuracyLevel: 4 });
  }
  return { prefill, decode };
}

/** Where the benchmark keeps the graphs of `model` (a size name or a folder key) and method. */
export function benchCacheDir(
  model: string,
  method: string,
  variant: GraphVariant = {},
  root = cacheRoot(),
): string {
  const name = method + ((variant.lastLogits ?? true) ? "" : ".all-logits") +
    ((variant.foldParams ?? true) ? "" : ".no-fold") +
    ((variant.ep ?? "cpu") === "cpu" ? "" : ".gpu") + (variant.scan ? `.scan-${variant.scan}` : "");
  return join(root, "bench", `g${GRAPH_VERSION}.${BENCH_GRAPH_VERSION}`, model, name);
}

/**
 * Builds the graphs of `method` into `dir` unless they are there, with a progress bar over the
 * weights written. Returns whether it built them.
 */
export async function ensureBenchGraphs(
  dir: string,
  config: ModelConfig,
  src: WeightSource,
  method: string,
  label: string,
  variant: GraphVariant = {},
): Promise<boolean> {
  if (await exists(join(dir, "decode.onnx"))) return false;
  const { prefill, decode } = await benchGraphs(config, src, method, variant);
  const seen = new Set<string>();
  const big = [...prefill.initializers.values(), ...decode.initializers.values()].filter((t) =>
    t.byteLength >= 1024 && !seen.has(t.name) && seen.add(t.name)
  );
  const bar = new Progress(`building ${label} ${method}`, big.length);
  for (const t of big) {
    const data = t.data;
    t.data = async () => {
      const r = await data();
      bar.tick(1, t.name);
      return r;
    };
  }
  await writeModelFolder(dir, { "prefill.onnx": prefill, "decode.onnx": decode }, {
    metadata: { method, source: label },
  });
  bar.done();
  return true;
}
