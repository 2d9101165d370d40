/**
 * What the kit does to a hybrid model's attention and MoE instead of what Quamba did, measured
 * on the fake-quant reference (float64 TypeScript, lib/quant/reference.ts): Quamba quantized
 * Jamba's Mamba mixers with its recipe and left attention, router, experts and MLPs to
 * bitsandbytes' LLM.int8 (per-row int8 weights, per-token int8 activations, input columns
 * above 6.0 in float16: lib/quant/llm_int8.ts); the kit's `quamba` makes them static per-tensor
 * W8A8 (QDQ, fused into int8 kernels), which any onnxruntime runs. Each scheme's logits are
 * compared with the float model's on the same tokens.
 */
import { archOfConfig } from "../arch/registry.ts";
import { type CalibrationSet, loadCalibration } from "../calibration.ts";
import { openCheckpoint } from "../checkpoint.ts";
import { KitError } from "../errors.ts";
import { DEFAULT_CALIBRATION } from "../paths.ts";
import { collectStats } from "../stats/collect.ts";
import { loadTokenizer } from "../tokenizer.ts";
import { llmInt8Linear, type RowInt8, rowInt8 } from "./llm_int8.ts";
import { methodSpec } from "./methods.ts";
import { planScales } from "./plan.ts";
import { fakeQuantReference } from "./reference.ts";
import { transformWeights } from "./transform.ts";

/** One scheme's distance from the float model. */
export interface BlockSchemeResult {
  scheme: string;
  description: string;
  /** max |logits − float| / max |float| over all positions */
  relErr: number;
  /** mean over positions of KL(float ‖ scheme) of the next-token distributions, nats */
  meanKl: number;
  /** mean next-token NLL of `ids`, and its difference from the float model's */
  nll: number;
  nllDelta: number;
  /** positions whose top token equals the float model's, fraction */
  top1: number;
}

export interface BlockSchemeOptions {
  /** Token ids to score (default: the tokenizer's encoding of `text`). */
  ids?: number[];
  /** Calibration text file or set (default the shipped WikiText-2 sample) and its size. */
  calibration?: string | CalibrationSet;
  samples?: number;
  maxLen?: number;
  cacheDir?: string;
  /** LLM.int8's outlier threshold (default 6.0). */
  threshold?: number;
}

/** log-softmax of `v` logits from `o`, in float64. */
function logSoftmax(x: Float32Array, o: number, v: number): Float64Array {
  let mx = -Infinity;
  for (let j = 0; j < v; j++) mx = Math.max(mx, x[o + j]);
  let z = 0;
  for (let j = 0; j < v; j++) z += Math.exp(x[o + j] - mx);
  const lz = mx + Math.log(z);
  return Float64Array.from({ length: v }, (_, j) => x[o + j] - lz);
}

/** The scheme's logits against the float model's on `ids`. */
function score(
  scheme: string,
  description: string,
  got: Float32Array,
  ref: Float32Array,
  ids: number[],
  v: number,
  refNll: number,
): BlockSchemeResult {
  let err = 0, mx = 0, kl = 0, nll = 0, same = 0;
  for (let i = 0; i < got.length; i++) {
    err = Math.max(err, Math.abs(got[i] - ref[i]));
    mx = Math.max(mx, Math.abs(ref[i]));
  }
  for (let t = 0; t < ids.length; t++) {
    const p = logSoftmax(ref, t * v, v), q = logSoftmax(got, t * v, v);
    let a = 0, b = 0;
    for (let j = 0; j < v; j++) {
      kl += Math.exp(p[j]) * (p[j] - q[j]);
      if (p[j] > p[a]) a = j;
      if (q[j] > q[b]) b = j;
    }
    if (a === b) same++;
    if (t + 1 < ids.length) nll -= q[ids[t + 1]];
  }
  nll /= ids.length - 1;
  return {
    scheme,
    description,
    relErr: err / mx,
    meanKl: kl / ids.length,
    nll,
    nllDelta: nll - refNll,
    top1: same / ids.length,
  };
}

/**
 * Measures, for a hybrid checkpoint (Jamba), the float model against: Quamba's mixers with the
 * kit's static W8A8 blocks (`quamba`), with LLM.int8 blocks (what Quamba's code ran), with
 * floating-point blocks (`quamba-mamba-only`), and naive W8A8 everywhere, all in the float64
 * fake-quant reference on the same tokens.
 *
 * @example
 * ```ts
 * const rows = await compareBlockSchemes("tests/fixtures/jamba_tiny", { ids, samples: 32 });
 * console.table(rows);
 * ```
 */
export async function compareBlockSchemes(
  dir: string,
  options: BlockSchemeOptions = {},
): Promise<BlockSchemeResult[]> {
  const ckpt = await openCheckpoint(dir);
  const arch = archOfConfig(ckpt.config), config = ckpt.config;
  if (config.model_type !== "jamba") {
    throw new KitError(`${dir}: block schemes compare hybrid (Jamba) models, not '${arch.label}'`);
  }
  const ids = options.ids;
  if (!ids || ids.length < 2) throw new KitError("compareBlockSchemes: give at least 2 token ids");
  const tokenizer = await loadTokenizer(dir);
  const c = options.calibration;
  const calib = typeof c === "object"
    ? c
    : await loadCalibration(c ?? DEFAULT_CALIBRATION, tokenizer, {
      samples: options.samples ?? 64,
      maxLen: options.maxLen,
    });
  const percentile = arch.quambaPercentile;
  const stats = await collectStats(ckpt, calib, {
    progress: false,
    cacheDir: options.cacheDir,
    emaPercentiles: [99.999, percentile],
  });
  const v = config.vocab_size;
  const floatRef = await arch.reference(config, ckpt.src);
  const ref = floatRef.forward(ids).logits;
  let refNll = 0;
  for (let t = 0; t + 1 < ids.length; t++) refNll -= logSoftmax(ref, t * v, v)[ids[t + 1]];
  refNll /= ids.length - 1;

  const run = async (method: string, llmInt8 = false) => {
    const spec = methodSpec(method, config.model_type);
    const t = await transformWeights(config, ckpt.src, spec, stats);
    const plan = planScales(stats, spec, method, { percentile, layers: config.num_hidden_layers });
    const rowCache = new Map<string, RowInt8>();
    const linear = llmInt8
      ? (name: string, W: Float32Array, x: Float64Array, out: number) => {
        let w = rowCache.get(name);
        if (!w) rowCache.set(name, w = rowInt8(W, out, x.length));
        return llmInt8Linear(w, x, options.threshold);
      }
      : undefined;
    const model = await fakeQuantReference(t.config, t.src, plan, { linear });
    return model.forward(ids).logits;
  };
  return [
    score(
      "quamba",
      "Quamba mixers; attention, router, experts, MLPs static per-tensor W8A8 (the kit)",
      await run("quamba"),
      ref,
      ids,
      v,
      refNll,
    ),
    score(
      "quamba + LLM.int8",
      "Quamba mixers; the rest LLM.int8 (per-row int8, outlier columns >= 6 in float: the paper's)",
      await run("quamba-mamba-only", true),
      ref,
      ids,
      v,
      refNll,
    ),
    score(
      "quamba-mamba-only",
      "Quamba mixers; attention, router, experts, MLPs floating point",
      await run("quamba-mamba-only"),
      ref,
      ids,
      v,
      refNll,
    ),
    score(
      "w8a8",
      "naive static per-tensor W8A8 everywhere",
      await run("w8a8"),
      ref,
      ids,
      v,
      refNll,
    ),
  ];
}
