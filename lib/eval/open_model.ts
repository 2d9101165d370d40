/** Opening any evaluable model: a checkpoint at a precision, or (later) a quantized folder. */
import { KitError } from "../errors.ts";
import { type Dtype, loadModel, type Model } from "../model.ts";
import type { Ep } from "../runtime.ts";

/** Methods that `openAnyModel` can open now. */
export const OPENABLE_METHODS: readonly string[] = ["fp32", "fp16"];

export interface OpenOptions {
  /** `fp32` (default) or `fp16` for a checkpoint; a quantization method for a quantized folder. */
  method?: string;
  ep?: Ep;
  threads?: number;
}

/**
 * Opens a model for evaluation. A checkpoint folder (config.json + safetensors) opens at
 * `fp32` or `fp16`; quantized folders (issue 4's methods) are not loadable yet, and asking for
 * another method says so.
 *
 * @example
 * ```ts
 * const model = await openAnyModel("data/models/embedded", { method: "fp16" });
 * ```
 */
export async function openAnyModel(path: string, options: OpenOptions = {}): Promise<Model> {
  const method = options.method ?? "fp32";
  if (!OPENABLE_METHODS.includes(method)) {
    throw new KitError(
      `method '${method}' cannot be evaluated yet: quantized models (issue 4) are not loadable ` +
        `by the evaluator so far; available: ${OPENABLE_METHODS.join(", ")}`,
    );
  }
  return await loadModel(path, {
    dtype: method as Dtype,
    ep: options.ep,
    threads: options.threads,
  });
}
