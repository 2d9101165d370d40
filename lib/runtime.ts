/**
 * onnxruntime sessions on the CPU, WebGPU or CUDA execution provider, through the kit's binding
 * of onnxruntime's C API (lib/ort), with clear errors when a provider is missing. A model's
 * prefill and decode sessions on the CPU share one copy of their weights.
 */
import { join } from "node:path";
import { KitError } from "./errors.ts";
import {
  type CudaOptions,
  type Provider,
  Session,
  type SessionOptions as OrtSessionOptions,
  SharedWeights,
  type TensorLocation,
  trimHeap,
} from "./ort/mod.ts";

export { Session, Tensor } from "./ort/mod.ts";

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
  outputLocation?: Record<string, TensorLocation>;
  /** WebGPU EP options (keys of webgpu_provider_options.h without their `ep.webgpuexecutionprovider.`
   * prefix), e.g. `{ validationMode: "basic", enableGraphCapture: "1" }`. */
  webgpu?: Record<string, string>;
  /** CUDA EP options (device, CUDA graphs, TF32; TF32 is off unless asked for). */
  cuda?: CudaOptions;
  /** Extra session config entries (`session.*` keys of onnxruntime_session_options_config_keys.h). */
  config?: Record<string, string>;
  /** Runs on a thread of Deno's blocking pool, or on the calling thread; default "auto"
   * (off-thread after a run longer than 50 ms; see lib/ort/session.ts). */
  nonblocking?: boolean | "auto";
}

/** Checks an EP name from user input. */
export function parseEp(name: string): Ep {
  if ((EPS as readonly string[]).includes(name)) return name as Ep;
  throw new KitError(`unknown execution provider '${name}' (expected one of ${EPS.join(", ")})`);
}

/** The providers of `ep` with the kit's defaults and the caller's options. */
export function providersOf(ep: Ep, options: SessionOptions = {}): Provider[] {
  if (ep === "cpu") return [];
  if (ep === "cuda") return [{ name: "cuda", options: { useTf32: false, ...options.cuda } }];
  // Dawn's API validation costs CPU time at every dispatch: off unless asked for
  const { validationMode, enableGraphCapture, deviceId, ...extra } = options.webgpu ?? {};
  return [{
    name: "webgpu",
    options: {
      validationMode: (validationMode ?? "disabled") as "disabled",
      enableGraphCapture: enableGraphCapture === undefined ? undefined : enableGraphCapture === "1",
      deviceId: deviceId === undefined ? undefined : Number(deviceId),
      extra,
    },
  }];
}

/** The binding's session options for `ep` and the kit's `options`. */
export function sessionOptions(ep: Ep, options: SessionOptions = {}): OrtSessionOptions {
  return {
    providers: providersOf(ep, options),
    optimization: "all",
    logLevel: "error",
    config: {
      // onnxruntime turns DequantizeLinear(int8 weight) -> MatMul into MatMulNBits, which by
      // default (accuracy level 4) also quantizes the activations: keep them float32.
      "session.qdq_matmulnbits_accuracy_level": "1",
      // MatMulAddFusion would turn the decode step's out_proj + residual Add into a float Gemm
      // before the int8 (QDQ) fusions see it.
      "optimization.disable_specified_optimizers": "MatMulAddFusion",
      ...options.config,
    },
    intraOpThreads: options.threads,
    optimizedModelFilePath: options.optimizedModelFilePath,
    profileFilePrefix: options.profileFilePrefix,
    outputLocation: options.outputLocation,
    nonblocking: options.nonblocking,
  };
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
): Promise<Session> {
  try {
    return await Session.create(path, sessionOptions(ep, options));
  } catch (e) {
    throw epError(ep, path, e as Error);
  }
}

/** Options of a model's two sessions: common ones, and per graph. */
export interface ModelSessionOptions extends SessionOptions {
  prefill?: SessionOptions;
  decode?: SessionOptions;
  /** CPU EP: one copy of the weights for both sessions (default: on, unless
   * `$QUAMBA_SHARE_WEIGHTS` is "0"). */
  shareWeights?: boolean;
}

function shareByDefault(): boolean {
  try {
    return Deno.env.get("QUAMBA_SHARE_WEIGHTS") !== "0";
  } catch {
    return true;
  }
}

/**
 * Opens `prefill.onnx` and `decode.onnx` of a model folder. On the CPU EP they share their
 * weights (lib/ort/weights.ts): the folder's `weights.bin` is mapped once, given to both
 * sessions, and packed once; its pages are dropped while and after the sessions load.
 *
 * @example
 * ```ts
 * const { prefill, decode } = await createModelSessions(dir, "cpu", { threads: 2 });
 * ```
 */
export async function createModelSessions(
  dir: string,
  ep: Ep,
  options: ModelSessionOptions = {},
): Promise<{ prefill: Session; decode: Session }> {
  const { prefill: p = {}, decode: d = {}, shareWeights, ...common } = options;
  const graphs = { prefill: { ...common, ...p }, decode: { ...common, ...d } };
  if (ep !== "cpu" || !(shareWeights ?? shareByDefault())) {
    const prefill = await createSession(join(dir, "prefill.onnx"), ep, graphs.prefill);
    try {
      return { prefill, decode: await createSession(join(dir, "decode.onnx"), ep, graphs.decode) };
    } catch (e) {
      await prefill.release();
      throw e;
    }
  }
  const files = ["prefill.onnx", "decode.onnx"] as const;
  let weights: SharedWeights;
  try {
    weights = await SharedWeights.load(dir, files);
  } catch (e) {
    throw epError(ep, join(dir, files[0]), e as Error);
  }
  // packing reads every weight once: drop the mapping's pages as it goes, and give back the
  // heap blocks onnxruntime frees (the second session packs each weight again to find it in
  // the container), so that the weights are resident about once (packed) rather than twice
  const trim = () => {
    weights.trim();
    trimHeap();
  };
  const timer = setInterval(trim, 5);
  const opened: Session[] = [];
  try {
    for (const g of files) {
      const o = sessionOptions(ep, g === "prefill.onnx" ? graphs.prefill : graphs.decode);
      const path = join(dir, g);
      try {
        opened.push(
          await Session.create(weights.model(g), {
            ...o,
            label: path,
            config: { ...o.config, "session.model_external_initializers_file_folder_path": dir },
            initializers: weights.initializersOf(g),
            prepacked: weights.prepacked,
            shared: weights,
          }),
        );
      } catch (e) {
        throw epError(ep, path, e as Error);
      }
    }
    return { prefill: opened[0], decode: opened[1] };
  } catch (e) {
    for (const s of opened) await s.release();
    throw e;
  } finally {
    clearInterval(timer);
    trim();
    weights.unref(); // the sessions hold the weights now
  }
}

function epError(ep: Ep, path: string, e: Error): Error {
  const msg = e.message ?? String(e);
  if (
    ep === "cuda" && /libonnxruntime_providers|shared (object|library)|failed to load/i.test(msg)
  ) {
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
