/**
 * quamba-kit: look inside, quantize and measure Mamba and Jamba language models, in Deno with
 * onnxruntime.
 *
 * @example
 * ```ts
 * import { loadModel } from "./mod.ts";
 * const model = await loadModel("data/models/embedded");
 * const ids = model.tokenizer.encode("The Time Traveller");
 * const next = await model.generate(ids, { maxNewTokens: 16 });
 * console.log(model.tokenizer.decode(next));
 * await model.close();
 * ```
 * @module
 */
export { loadModel } from "./lib/model.ts";
export type { Dtype, GenerateOptions, LoadOptions, MambaState, Model } from "./lib/model.ts";
export type { Ep } from "./lib/runtime.ts";
export type { MambaConfig } from "./lib/arch/mamba/config.ts";
export type { ModelState } from "./lib/state.ts";
export { ARCHITECTURES, archOf } from "./lib/arch/registry.ts";
export type { Architecture, ModelConfig, StateTensorSpec } from "./lib/arch/registry.ts";
export type { JambaConfig } from "./lib/arch/jamba/config.ts";
export { ReferenceJamba } from "./lib/arch/jamba/reference.ts";
export type { Tokenizer } from "./lib/tokenizer.ts";
export { KitError } from "./lib/errors.ts";
export { openCheckpoint } from "./lib/checkpoint.ts";
export { ReferenceMamba } from "./lib/arch/mamba/reference.ts";
export { quantize } from "./lib/quant/quantize.ts";
export type { QuantizedModel, QuantizeOptions } from "./lib/quant/quantize.ts";
export { METHOD_NAMES, METHODS, methodsFor } from "./lib/quant/methods.ts";
export { compareBlockSchemes } from "./lib/quant/block_schemes.ts";
export type { BlockSchemeResult } from "./lib/quant/block_schemes.ts";
export { loglikelihood } from "./lib/eval/loglikelihood.ts";
export type { LoglikelihoodResult, Request, TokenRequest } from "./lib/eval/requests.ts";
export { scoreTokens } from "./lib/eval/score.ts";
export type { ScoreOptions, ScoreStats } from "./lib/eval/score.ts";
export { evaluateTask } from "./lib/eval/runner.ts";
export type { EvaluateOptions, TaskResult } from "./lib/eval/runner.ts";
export { getTask, TASKS } from "./lib/eval/tasks/index.ts";
export { openAnyModel } from "./lib/eval/open_model.ts";
export { measureLatency } from "./lib/bench/latency.ts";
export type { LatencyOptions, LatencyResult } from "./lib/bench/latency.ts";
export { readBenchRows } from "./lib/bench/table.ts";
export type { BenchRow } from "./lib/bench/table.ts";
export { epOverhead } from "./lib/bench/kernels.ts";
export { DeviceLoop } from "./lib/device_loop.ts";
export type { DeviceLoopOptions, LoopGenerateOptions } from "./lib/device_loop.ts";
export { addNextToken, NEXT_IDS } from "./lib/onnx/next_token.ts";
export type { EpOverhead } from "./lib/bench/kernels.ts";
export { compareMethods, percentileAblation, sensitivity } from "./lib/quality/mod.ts";
export type {
  CompareOptions,
  Comparison,
  Estimate,
  MethodQuality,
  SensitivityRow,
} from "./lib/quality/mod.ts";
