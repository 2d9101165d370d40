/**
 * onnxruntime-node sessions on the CPU, WebGPU or CUDA execution provider, with clear errors
 * when a provider is missing.
 */
import * as ort from "onnxruntime-node";
import { KitError } from "./errors.ts";

/** Execution providers the kit runs on. */
export type Ep = "cpu" | "webgpu" | "cuda";
export const EPS: readonly Ep[] = ["cpu", "webgpu", "cuda"];

export interface SessionOptions {
  /** Threads for one operator (CPU EP); default: onnxruntime's choice (all cores). */
  threads?: number;
  /** Where onnxruntime writes the graph after its optimisations (to inspect fusions). */
  optimizedModelFilePath?: string;
  /** Per-operator profiling: onnxruntime writes `<prefix>_<date>.json` (see `endProfiling`). */
  profileFilePrefix?: string;
  /** Where outputs are left: `gpu-buffer` keeps them on the GPU (as inputs of the next run). */
  outputLocation?: Record<string, "cpu" | "gpu-buffer">;
  /** WebGPU EP options (`ep.webgpuexecutionprovider.*`), e.g. `{ validationMode: "disabled" }`. */
  webgpu?: Record<string, string>;
  /** Extra session config entries (`session.*` keys of onnxruntime_session_options_config_keys.h). */
  config?: Record<string, string>;
}

/** Checks an EP name from user input. */
export function parseEp(name: string): Ep {
  if ((EPS as readonly string[]).includes(name)) return name as Ep;
  throw new KitError(`unknown execution provider '${name}' (expected one of ${EPS.join(", ")})`);
}

/**
 * Opens an ONNX model file on an execution provider.
 *
 * @example
 * ```ts
 * const s = await createSession("model/prefill.onnx", "cpu");
 * ```
 */
export async function createSession(
  path: string,
  ep: Ep,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    // onnxruntime turns DequantizeLinear(int8 weight) -> MatMul into MatMulNBits, which by
    // default (accuracy level 4) also quantizes the activations: keep them float32.
    // MatMulAddFusion would turn the decode step's out_proj + residual Add into a float Gemm
    // before the int8 (QDQ) fusions see it.
    extra: {
      session: { qdq_matmulnbits_accuracy_level: "1", ...sessionKeys(options.config) },
      optimization: { disable_specified_optimizers: "MatMulAddFusion" },
      // Dawn's API validation costs CPU time at every dispatch: off by default (measured on the
      // H200: 1.37 → 1.41 ms a run, but a mamba-130m decode step 28 → 18 ms)
      ...(ep === "webgpu"
        ? { ep: { webgpuexecutionprovider: { validationMode: "disabled", ...options.webgpu } } }
        : {}),
    },
  };
  if (options.threads) so.intraOpNumThreads = options.threads;
  if (options.outputLocation) so.preferredOutputLocation = options.outputLocation;
  if (options.optimizedModelFilePath) so.optimizedModelFilePath = options.optimizedModelFilePath;
  if (options.profileFilePrefix) {
    so.enableProfiling = true;
    so.profileFilePrefix = options.profileFilePrefix;
  }
  telemetryOff();
  try {
    return await ort.InferenceSession.create(path, so);
  } catch (e) {
    throw epError(ep, path, e as Error);
  }
}

/**
 * onnxruntime 1.30 records usage events in `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` unless
 * `ORT_DISABLE_TELEMETRY` is set when its environment is created (at the first session); its
 * telemetry also copies the command line, and a command line of ~30 KB (a long `--prompt`)
 * overflowed the main thread's stack inside session creation. The kit turns it off.
 */
export function telemetryOff(): void {
  try {
    if (Deno.env.get("ORT_DISABLE_TELEMETRY") !== "1") Deno.env.set("ORT_DISABLE_TELEMETRY", "1");
  } catch { /* no --allow-env: onnxruntime's default stays */ }
}

/** `{"session.x": v}` → `{x: v}` (onnxruntime-node nests the keys under `extra.session`). */
function sessionKeys(config: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => [k.replace(/^session\./, ""), v]),
  );
}

function epError(ep: Ep, path: string, e: Error): Error {
  const msg = e.message ?? String(e);
  if (ep === "cuda" && /cuda|provider|shared library|libonnxruntime_providers/i.test(msg)) {
    return new KitError(
      `the CUDA execution provider is not available in this onnxruntime-node (${
        msg.split("\n")[0]
      }).\n` +
        `Its binaries are a separate download: reinstall with\n` +
        `  ONNXRUNTIME_NODE_INSTALL=cuda12 deno install --allow-scripts=npm:onnxruntime-node\n` +
        `(or 'npm install onnxruntime-node --onnxruntime-node-install=cuda12'), on a machine with ` +
        `CUDA 12 and cuDNN 9; or use --ep cpu / --ep webgpu.`,
    );
  }
  if (ep === "webgpu" && /webgpu|adapter|dawn|vulkan|device/i.test(msg)) {
    return new KitError(
      `the WebGPU execution provider found no usable GPU (${msg.split("\n")[0]}). ` +
        `It needs a Vulkan driver (libvulkan1 and the GPU vendor's ICD); or use --ep cpu.`,
    );
  }
  return new KitError(`${path}: onnxruntime could not load the model on '${ep}': ${msg}`);
}
