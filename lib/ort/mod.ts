/**
 * onnxruntime's C API through Deno FFI, over the shared library the onnxruntime-node package
 * ships: library loading, the process env (telemetry off), session options and execution
 * providers with their real options, sessions, host and device tensors, IO binding, run
 * options, and weights shared between sessions.
 *
 * @example
 * ```ts
 * import { Session, Tensor } from "./lib/ort/mod.ts";
 * const s = await Session.create("model.onnx");
 * const out = await s.run({ x: new Tensor("float32", new Float32Array([1, 2]), [2]) });
 * await s.release();
 * ```
 * @module
 */
export { apiVersionOf, ORT_API, REQUIRED_API_VERSION } from "./api_table.ts";
export { ort, ortAsync } from "./api.ts";
export {
  TENSOR_TYPES,
  type TensorData,
  type TensorDataMap,
  type TensorType,
  typeOfCode,
} from "./dtypes.ts";
export { LOG_LEVEL, type LogLevel, ortEnv } from "./env.ts";
export { liveHandles, NativeHandle } from "./handle.ts";
export { IoBinding } from "./io_binding.ts";
export {
  libraryInPackage,
  locateLibrary,
  ORT_LIB_ENV,
  type OrtLibrary,
  ortLibrary,
} from "./library.ts";
export { Allocator, type Device, MemoryInfo } from "./memory.ts";
export {
  appendGeneric,
  appendProvider,
  availableProviders,
  type CudaOptions,
  cudaOptionsAsString,
  cudaProviderOptions,
  type Provider,
  type WebGpuOptions,
  webgpuProviderOptions,
} from "./providers.ts";
export { RUN_CONFIG, type RunConfig, RunOptions } from "./run_options.ts";
export { Session, type SessionOptions } from "./session.ts";
export { type IoInfo, sessionIo } from "./session_io.ts";
export { type CallMode, Calls, defaultCallMode, LONG_RUN_MS } from "./calls.ts";
export { createSessionOptions, type SessionConfig, sessionConfigEntry } from "./session_options.ts";
export { check, OrtError } from "./status.ts";
export { Tensor, type TensorLocation } from "./tensor.ts";
export { OrtValue } from "./value.ts";
export { externalInitializers, PrepackedWeights, SharedWeights } from "./weights.ts";
export { fuseWeightTransposes } from "./shareable.ts";
export { FileMapping, mapFile, trimHeap } from "./mmap.ts";
