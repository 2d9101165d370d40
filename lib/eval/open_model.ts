/** Opening any evaluable model: a checkpoint at a precision or quantized by a method, or a saved quantized folder. */
import { KitError } from "../errors.ts";
import { type Dtype, loadModel, type Model } from "../model.ts";
import { METHOD_NAMES } from "../quant/methods.ts";
import { isQuantizedFolder, quantize } from "../quant/quantize.ts";
import type { Ep } from "../runtime.ts";

/** Methods that `openAnyModel` can open. */
export const OPENABLE_METHODS: readonly string[] = METHOD_NAMES;

export interface OpenOptions {
  /** `fp32` (default), `fp16`, or a quantization method (see METHODS); for a quantized folder,
   * its own method (or nothing). */
  method?: string;
  ep?: Ep;
  threads?: number;
  /** Calibration text for quantizing a checkpoint (default: the shipped WikiText-2 sample). */
  calibration?: string;
  /** Calibration samples (default 512, or as many as the text holds). */
  samples?: number;
  /** Percentile of |u| for clipping methods (default 99.999). */
  percentile?: number;
}

/**
 * Opens a model for evaluation. A checkpoint folder opens at `fp32` or `fp16`, or is quantized
 * with an int8 method (calibrated once, then cached); a quantized folder saved by `quantize`
 * opens as it is.
 *
 * @example
 * ```ts
 * const model = await openAnyModel("data/models/embedded", { method: "quamba" });
 * ```
 */
export async function openAnyModel(path: string, options: OpenOptions = {}): Promise<Model> {
  if (await isQuantizedFolder(path)) {
    const model = await loadModel(path, { ep: options.ep, threads: options.threads });
    if (options.method && options.method !== model.method) {
      await model.close();
      throw new KitError(`${path}: a '${model.method}' model was asked for as '${options.method}'`);
    }
    return model;
  }
  const method = options.method ?? "fp32";
  if (!OPENABLE_METHODS.includes(method)) {
    throw new KitError(`unknown method '${method}' (known: ${OPENABLE_METHODS.join(", ")})`);
  }
  if (method === "fp32" || method === "fp16") {
    return await loadModel(path, {
      dtype: method as Dtype,
      ep: options.ep,
      threads: options.threads,
    });
  }
  return await quantize(path, {
    method,
    calibration: options.calibration,
    samples: options.samples,
    percentile: options.percentile,
    ep: options.ep,
    threads: options.threads,
  });
}
