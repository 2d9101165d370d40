/**
 * The slice of onnxruntime's `OrtApi` function table the kit calls: each function's index in the
 * struct (one pointer per entry, in the order of `include/onnxruntime/core/session/
 * onnxruntime_c_api.h`; the table is append-only, so an index never changes) and its C
 * signature for Deno FFI. The API version a function appeared in follows from its index
 * (`apiVersionOf`): the last index of each version is pinned by static_asserts in
 * onnxruntime's `onnxruntime_c_api.cc`.
 */

/** A C function of the table: its slot and its signature. */
export interface ApiFn {
  index: number;
  parameters: readonly Deno.NativeType[];
  result: Deno.NativeResultType;
}

/** The last index of each API version (versions 19 and 21 added nothing). */
const VERSION_ENDS: readonly [version: number, lastIndex: number][] = [
  [1, 101],
  [2, 118],
  [3, 124],
  [4, 126],
  [5, 149],
  [6, 157],
  [7, 161],
  [8, 169],
  [9, 191],
  [10, 203],
  [11, 209],
  [12, 218],
  [13, 224],
  [14, 238],
  [15, 254],
  [16, 265],
  [17, 275],
  [18, 279],
  [20, 284],
  [22, 317],
  [23, 389],
  [24, 411],
];

/**
 * The API version in which the function at `index` appeared.
 *
 * @example
 * ```ts
 * apiVersionOf(ORT_API.CopyTensors.index); // 23
 * ```
 */
export function apiVersionOf(index: number): number {
  for (const [version, last] of VERSION_ENDS) if (index <= last) return version;
  throw new RangeError(`OrtApi index ${index} is beyond the API versions this table knows`);
}

const P = "pointer", B = "buffer", U = "usize", I = "i32";
/** Returns an `OrtStatus*` (NULL on success). */
const st = <const A extends readonly Deno.NativeType[]>(index: number, ...parameters: A) => ({
  index,
  parameters,
  result: "pointer" as const,
});
const fn = <const R extends Deno.NativeResultType, const A extends readonly Deno.NativeType[]>(
  index: number,
  result: R,
  ...parameters: A
) => ({ index, parameters, result });

/**
 * Name → slot and signature of every `OrtApi` function the kit calls.
 *
 * @example
 * ```ts
 * ORT_API.Run.index; // 9
 * ```
 */
export const ORT_API = {
  // OrtStatus
  GetErrorCode: fn(1, I, P),
  GetErrorMessage: fn(2, P, P),
  ReleaseStatus: fn(93, "void", P),
  // OrtEnv
  CreateEnv: st(3, I, B, B),
  DisableTelemetryEvents: st(6, P),
  ReleaseEnv: fn(92, "void", P),
  // OrtSession
  CreateSession: st(7, P, B, P, B),
  CreateSessionFromArray: st(8, P, B, U, P, B),
  Run: st(9, P, P, B, B, U, B, U, B),
  SessionGetInputCount: st(30, P, B),
  SessionGetOutputCount: st(31, P, B),
  SessionGetInputTypeInfo: st(33, P, U, B),
  SessionGetOutputTypeInfo: st(34, P, U, B),
  SessionGetInputName: st(36, P, U, P, B),
  SessionGetOutputName: st(37, P, U, P, B),
  SessionEndProfiling: st(110, P, P, B),
  ReleaseSession: fn(95, "void", P),
  CreateSessionWithPrepackedWeightsContainer: st(168, P, B, P, P, B),
  CreateSessionFromArrayWithPrepackedWeightsContainer: st(169, P, B, U, P, P, B),
  // OrtSessionOptions
  CreateSessionOptions: st(10, B),
  SetOptimizedModelFilePath: st(11, P, B),
  EnableProfiling: st(14, P, B),
  SetSessionLogSeverityLevel: st(22, P, I),
  SetSessionGraphOptimizationLevel: st(23, P, I),
  SetIntraOpNumThreads: st(24, P, I),
  SetInterOpNumThreads: st(25, P, I),
  AddFreeDimensionOverrideByName: st(124, P, B, "i64"),
  AddSessionConfigEntry: st(130, P, B, B),
  AddInitializer: st(150, P, B, P),
  HasSessionConfigEntry: st(237, P, B, B),
  GetSessionConfigEntry: st(238, P, B, B, B),
  ReleaseSessionOptions: fn(100, "void", P),
  CreatePrepackedWeightsContainer: st(166, B),
  ReleasePrepackedWeightsContainer: fn(167, "void", P),
  // execution providers
  SessionOptionsAppendExecutionProvider_CUDA_V2: st(204, P, P),
  CreateCUDAProviderOptions: st(205, B),
  UpdateCUDAProviderOptions: st(206, P, B, B, U),
  GetCUDAProviderOptionsAsString: st(207, P, P, B),
  ReleaseCUDAProviderOptions: fn(208, "void", P),
  SessionOptionsAppendExecutionProvider: st(216, P, B, B, B, U),
  GetAvailableProviders: st(125, B, B),
  ReleaseAvailableProviders: st(126, P, I),
  // OrtRunOptions
  CreateRunOptions: st(39, B),
  RunOptionsSetRunLogSeverityLevel: st(41, P, I),
  RunOptionsSetRunTag: st(42, P, B),
  RunOptionsGetRunTag: st(45, P, B),
  RunOptionsSetTerminate: st(46, P),
  RunOptionsUnsetTerminate: st(47, P),
  AddRunConfigEntry: st(165, P, B, B),
  GetRunConfigEntry: fn(373, P, P, B),
  ReleaseRunOptions: fn(97, "void", P),
  // OrtValue and type information
  CreateTensorAsOrtValue: st(48, P, B, U, I, B),
  CreateTensorWithDataAsOrtValue: st(49, P, P, U, B, U, I, B),
  GetTensorMutableData: st(51, P, B),
  CastTypeInfoToTensorInfo: st(55, P, B),
  GetOnnxTypeFromTypeInfo: st(56, P, B),
  GetTensorElementType: st(60, P, B),
  GetDimensionsCount: st(61, P, B),
  GetDimensions: st(62, P, B, U),
  GetSymbolicDimensions: st(63, P, B, U),
  GetTensorTypeAndShape: st(65, P, B),
  GetTensorMemoryInfo: st(194, P, B),
  GetTensorSizeInBytes: st(318, P, B),
  ReleaseValue: fn(96, "void", P),
  ReleaseTypeInfo: fn(98, "void", P),
  ReleaseTensorTypeAndShapeInfo: fn(99, "void", P),
  CopyTensors: st(386, P, B, B, P, U),
  // OrtMemoryInfo and OrtAllocator
  CreateMemoryInfo: st(68, B, I, I, I, B),
  CreateCpuMemoryInfo: st(69, I, I, B),
  MemoryInfoGetName: st(71, P, B),
  MemoryInfoGetId: st(72, P, B),
  MemoryInfoGetMemType: st(73, P, B),
  MemoryInfoGetDeviceType: fn(225, "void", P, B),
  ReleaseMemoryInfo: fn(94, "void", P),
  AllocatorFree: st(76, P, P),
  GetAllocatorWithDefaultOptions: st(78, B),
  CreateAllocator: st(131, P, P, B),
  ReleaseAllocator: fn(132, "void", P),
  // OrtIoBinding
  RunWithBinding: st(133, P, P, P),
  CreateIoBinding: st(134, P, B),
  ReleaseIoBinding: fn(135, "void", P),
  BindInput: st(136, P, B, P),
  BindOutput: st(137, P, B, P),
  BindOutputToDevice: st(138, P, B, P),
  GetBoundOutputValues: st(140, P, P, B, B),
  ClearBoundInputs: fn(141, "void", P),
  ClearBoundOutputs: fn(142, "void", P),
  SynchronizeBoundInputs: st(202, P),
  SynchronizeBoundOutputs: st(203, P),
  // misc
  GetBuildInfoString: fn(254, P),
} as const satisfies Record<string, ApiFn>;

/** Names of the functions in `ORT_API`. */
export type ApiName = keyof typeof ORT_API;

/** The highest API version any function of `ORT_API` needs. */
export const REQUIRED_API_VERSION: number = Math.max(
  ...Object.values(ORT_API).map((f) => apiVersionOf(f.index)),
);
