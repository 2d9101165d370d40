/** Opening a benchmark model folder with the session settings a measurement asks for. */
import type { ModelConfig } from "../arch/registry.ts";
import { graphOptions, maxPrefillOf, OnnxModel } from "../model.ts";
import { createModelSessions, type Ep, type SessionOptions } from "../runtime.ts";
import { missingTokenizer } from "../tokenizer.ts";

/** `prefill.onnx` and `decode.onnx` of `dir` as a model (no tokenizer: ids only). */
export async function openBenchModel(
  dir: string,
  meta: { config: ModelConfig; source: string; method: string },
  ep: Ep,
  options: SessionOptions & {
    graphs?: { prefill?: SessionOptions; decode?: SessionOptions };
    /** keep the states on the GPU between runs (default: on the WebGPU EP, where it is tested) */
    deviceStates?: boolean;
    /** the longest prefill one run takes (default: the parallel scan's on GPU EPs) */
    maxPrefill?: number;
  } = {},
): Promise<OnnxModel> {
  const {
    graphs = {},
    deviceStates = ep === "webgpu",
    maxPrefill = maxPrefillOf(graphOptions("fp32", ep, undefined, meta.config), meta.config),
    ...common
  } = options;
  if (deviceStates) common.outputLocation = OnnxModel.deviceStateLocations(meta.config);
  const { prefill, decode } = await createModelSessions(dir, ep, { ...common, ...graphs });
  return new OnnxModel(
    meta.config,
    missingTokenizer(dir),
    meta.source,
    ep,
    meta.method,
    prefill,
    decode,
    maxPrefill,
  );
}
