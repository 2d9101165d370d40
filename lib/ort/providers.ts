/**
 * Execution providers with their real options: the CPU (onnxruntime's default), CUDA through
 * the V2 provider options (`CreateCUDAProviderOptions` / `UpdateCUDAProviderOptions` /
 * `SessionOptionsAppendExecutionProvider_CUDA_V2`), and WebGPU through the generic
 * `SessionOptionsAppendExecutionProvider`, which stores each option as the session config entry
 * `ep.webgpuexecutionprovider.<key>` before the provider is created (so the provider reads it).
 */
import { KitError } from "../errors.ts";
import { ort } from "./api.ts";
import { addressOf, cString, OutPointer, pointerArray } from "./ffi.ts";
import { freeHostString, hostAllocator } from "./memory.ts";
import { check } from "./status.ts";

/** CUDA provider options (`cuda_provider_options.h` keys). */
export interface CudaOptions {
  /** `device_id`; default 0. */
  deviceId?: number;
  /** `enable_cuda_graph`: capture the run into a CUDA graph and replay it (inputs and outputs
   * must then be bound to fixed device buffers). Default false. */
  enableCudaGraph?: boolean;
  /** `use_tf32`: TF32 tensor-core math for float32 MatMul/Conv. The kit's default is false
   * (float32 graphs then agree with transformers' within 1e-4). */
  useTf32?: boolean;
  /** Any other `cuda_provider_options` key, verbatim (e.g. `cudnn_conv_algo_search`). */
  extra?: Record<string, string>;
}

/** WebGPU provider options (`webgpu_provider_options.h` keys, without their prefix). */
export interface WebGpuOptions {
  /** `validationMode`: Dawn's API validation; the kit's default is "disabled". */
  validationMode?: "disabled" | "wgpuOnly" | "basic" | "full";
  /** `enableGraphCapture`: record the run's commands once and replay them. Default false. */
  enableGraphCapture?: boolean;
  /** `deviceId` of the WebGPU context. */
  deviceId?: number;
  /** `preferredLayout`: "NCHW" or "NHWC". */
  preferredLayout?: "NCHW" | "NHWC";
  /** Any other WebGPU option key, verbatim (e.g. `storageBufferCacheMode`). */
  extra?: Record<string, string>;
}

/** An execution provider to append, with its options. */
export type Provider =
  | { name: "cpu" }
  | { name: "cuda"; options?: CudaOptions }
  | { name: "webgpu"; options?: WebGpuOptions };

function flag(v: boolean | undefined): string | undefined {
  return v === undefined ? undefined : v ? "1" : "0";
}

function nonNegativeInt(v: number | undefined, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0) {
    throw new KitError(`${what} must be a non-negative integer, got ${v}`);
  }
  return String(v);
}

function entries(pairs: Record<string, string | undefined>, extra: Record<string, string> = {}) {
  const all = {
    ...Object.fromEntries(Object.entries(pairs).filter(([, v]) => v !== undefined)),
    ...extra,
  };
  for (const [k, v] of Object.entries(all)) {
    if (typeof v !== "string" || v === "") {
      throw new KitError(`provider option '${k}' needs a non-empty string value`);
    }
  }
  return all as Record<string, string>;
}

/**
 * The `cuda_provider_options` keys and values of `o` (the kit's defaults applied).
 *
 * @example
 * ```ts
 * cudaProviderOptions({ enableCudaGraph: true }); // { device_id: "0", use_tf32: "0", enable_cuda_graph: "1" }
 * ```
 */
export function cudaProviderOptions(o: CudaOptions = {}): Record<string, string> {
  return entries({
    device_id: nonNegativeInt(o.deviceId ?? 0, "CUDA deviceId"),
    use_tf32: flag(o.useTf32 ?? false),
    enable_cuda_graph: flag(o.enableCudaGraph),
  }, o.extra);
}

/**
 * The WebGPU provider option keys and values of `o` (the kit's defaults applied).
 *
 * @example
 * ```ts
 * webgpuProviderOptions({ enableGraphCapture: true }); // { validationMode: "disabled", enableGraphCapture: "1" }
 * ```
 */
export function webgpuProviderOptions(o: WebGpuOptions = {}): Record<string, string> {
  const modes = ["disabled", "wgpuOnly", "basic", "full"];
  const mode = o.validationMode ?? "disabled";
  if (!modes.includes(mode)) {
    throw new KitError(`WebGPU validationMode '${mode}' is not one of ${modes.join(", ")}`);
  }
  return entries({
    validationMode: mode,
    enableGraphCapture: flag(o.enableGraphCapture),
    deviceId: nonNegativeInt(o.deviceId, "WebGPU deviceId"),
    preferredLayout: o.preferredLayout,
  }, o.extra);
}

function keyValueArrays(kv: Record<string, string>) {
  const keys = Object.keys(kv).map(cString), values = Object.values(kv).map(cString);
  return {
    keys: pointerArray(keys.map(addressOf)),
    values: pointerArray(values.map(addressOf)),
    n: keys.length,
    keep: [keys, values],
  };
}

/**
 * Runs `fn` on an `OrtCUDAProviderOptionsV2*` holding `o`, released afterwards (onnxruntime
 * copies the options where it keeps them).
 */
function withCudaOptions<T>(
  o: CudaOptions | undefined,
  fn: (cuda: Deno.PointerObject) => T,
): T {
  const api = ort();
  const out = new OutPointer();
  check(api.CreateCUDAProviderOptions(out.slot()), "CreateCUDAProviderOptions");
  const cuda = out.get()!;
  try {
    const kv = keyValueArrays(cudaProviderOptions(o));
    check(
      api.UpdateCUDAProviderOptions(cuda, kv.keys, kv.values, BigInt(kv.n)),
      "UpdateCUDAProviderOptions",
    );
    return fn(cuda);
  } finally {
    api.ReleaseCUDAProviderOptions(cuda);
  }
}

/** Appends the CUDA provider with `o` to `so` (an `OrtSessionOptions*`). */
function appendCuda(so: Deno.PointerObject, o: CudaOptions | undefined): void {
  withCudaOptions(o, (cuda) =>
    check(
      ort().SessionOptionsAppendExecutionProvider_CUDA_V2(so, cuda),
      "SessionOptionsAppendExecutionProvider_CUDA_V2",
    ));
}

/**
 * The CUDA provider options onnxruntime holds after parsing `o` ("key=value;...").
 *
 * @example
 * ```ts
 * cudaOptionsAsString({ useTf32: false }); // "device_id=0;...;use_tf32=0;..." (needs the CUDA provider)
 * ```
 */
export function cudaOptionsAsString(o: CudaOptions = {}): string {
  return withCudaOptions(o, (cuda) => {
    const s = new OutPointer();
    check(
      ort().GetCUDAProviderOptionsAsString(cuda, hostAllocator(), s.slot()),
      "GetCUDAProviderOptionsAsString",
    );
    return freeHostString(s.get());
  });
}

/**
 * Appends a provider by onnxruntime's generic entry point (`provider` as onnxruntime names it,
 * e.g. "WebGPU"), its options stored as `ep.<provider>.<key>` session config entries.
 *
 * @example
 * ```ts
 * appendGeneric(so.ptr, "WebGPU", { validationMode: "basic" });
 * ```
 */
export function appendGeneric(
  so: Deno.PointerObject,
  provider: string,
  kv: Record<string, string>,
): void {
  const a = keyValueArrays(kv);
  check(
    ort().SessionOptionsAppendExecutionProvider(
      so,
      cString(provider),
      a.keys,
      a.values,
      BigInt(a.n),
    ),
    `SessionOptionsAppendExecutionProvider(${provider})`,
  );
}

/**
 * Appends `p` to the session options `so` (the CPU provider is always there last).
 *
 * @example
 * ```ts
 * appendProvider(so, { name: "webgpu", options: { enableGraphCapture: true } });
 * ```
 */
export function appendProvider(so: Deno.PointerObject, p: Provider): void {
  if (p.name === "cpu") return;
  if (p.name === "cuda") return appendCuda(so, p.options);
  if (p.name === "webgpu") return appendGeneric(so, "WebGPU", webgpuProviderOptions(p.options));
  throw new KitError(`unknown execution provider '${(p as { name: string }).name}'`);
}

/**
 * Providers compiled into the loaded library (`GetAvailableProviders`).
 *
 * @example
 * ```ts
 * availableProviders(); // ["WebGpuExecutionProvider", "CPUExecutionProvider", ...]
 * ```
 */
export function availableProviders(): string[] {
  const api = ort();
  const arr = new BigUint64Array(1), len = new Int32Array(1);
  check(api.GetAvailableProviders(arr, len), "GetAvailableProviders");
  const base = Deno.UnsafePointer.create(arr[0]);
  const view = new Deno.UnsafePointerView(base!);
  const names = Array.from(
    { length: len[0] },
    (_, i) => Deno.UnsafePointerView.getCString(view.getPointer(i * 8)!),
  );
  check(api.ReleaseAvailableProviders(base, len[0]), "ReleaseAvailableProviders");
  return names;
}
