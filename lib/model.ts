/**
 * `Model`: a language model (Mamba-1 or Jamba, lib/arch/registry.ts) running in onnxruntime, from
 * a checkpoint folder.
 */
import { join } from "node:path";
import { type Checkpoint, openCheckpoint } from "./checkpoint.ts";
import { archOfConfig, type ModelConfig, type StateTensorSpec } from "./arch/registry.ts";
import { KitError } from "./errors.ts";
import { type GraphOptions, PARALLEL_SCAN_MAX, type WeightSource } from "./arch/mamba/graph.ts";
import { makeState, type ModelState, zeroState } from "./state.ts";
import { writeModelFolder } from "./onnx/save.ts";
import { createModelSessions, type Ep, parseEp, type Session, Tensor } from "./runtime.ts";
import { loadTokenizer, missingTokenizer, type Tokenizer } from "./tokenizer.ts";
import { graphCacheDir } from "./cache.ts";
import { isQuantizedFolder, readQuantizedFolder } from "./quant/folder.ts";
import { methodSpec } from "./quant/methods.ts";
import type { QuantPlan } from "./quant/plan.ts";

/** Numeric precision of a model's graphs. */
export type Dtype = "fp32" | "fp16";

export interface LoadOptions {
  /** Execution provider; default `cpu`. */
  ep?: Ep;
  /** `fp16` stores weights in float16 and, except on the CPU EP, computes projections in
   * float16; the scan and the states stay float32. Default `fp32`. */
  dtype?: Dtype;
  /** Threads per operator on the CPU EP. */
  threads?: number;
  /** The prefill's scan (default: sequential on the CPU EP, parallel on GPU EPs). */
  scan?: "sequential" | "parallel" | "fused";
  /** Where built graphs are cached; default `$QUAMBA_KIT_CACHE` or `~/.cache/quamba-kit`. */
  cacheDir?: string;
  /**
   * GPU EPs: keep the recurrent states on the GPU between runs (onnxruntime `gpu-buffer`
   * outputs) instead of copying every layer's states to the host and back at each step (on the
   * H200's WebGPU EP a mamba-130m decode step: 62 ms → 11 ms). The states' tensors are then GPU
   * buffers that JavaScript cannot read; `generate` releases them, callers of `prefill` /
   * `decode` release theirs with `disposeState`. Tested on the WebGPU EP. Default false.
   */
  deviceStates?: boolean;
}

export type { ModelState } from "./state.ts";
/**
 * The state of a batch of sequences (the name from before Jamba; see `ModelState`): for Mamba,
 * per layer `conv[i]` [b, e, k-1] and `ssm[i]` [b, e, n].
 */
export type MambaState = ModelState;

export interface GenerateOptions {
  /** Number of tokens to generate (fewer if `stopAtEos` and the model ends the text). */
  maxNewTokens: number;
  /** Stop after the end-of-text token. Default false. */
  stopAtEos?: boolean;
  /** Called with each new token id as soon as it is chosen. */
  onToken?: (id: number) => void;
}

/** The public face of a model, full-precision or quantized. */
export interface Model {
  /** The resolved config (`model_type` says which architecture). */
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  /** Where the model came from. */
  readonly source: string;
  readonly ep: Ep;
  /** Precision or quantization method, e.g. `fp32`, `fp16`, `quamba`. */
  readonly method: string;
  /** Logits of every position, row-major [ids.length, vocab_size], by one prefill. */
  logits(ids: number[]): Promise<Float32Array>;
  /** Greedy continuation: prefill once, then decode steps; returns only the new ids. */
  generate(ids: number[], options: GenerateOptions): Promise<number[]>;
  /** A zero state for `batch` sequences. */
  initialState(batch: number): MambaState;
  /** The tensors of a state (names, shapes, which grow with the tokens seen). */
  readonly stateLayout: readonly StateTensorSpec[];
  /** Runs equal-length sequences from `state`: logits [b, l, v] and the state after them. */
  prefill(
    ids: number[][],
    state?: MambaState,
  ): Promise<{ logits: Float32Array; state: MambaState }>;
  /** One token per sequence: logits [b, v] and the next state. */
  decode(ids: number[], state: MambaState): Promise<{ logits: Float32Array; state: MambaState }>;
  /** Releases a state's GPU buffers (states kept on the device); a no-op for host states. */
  disposeState(state: MambaState): void;
  /** Releases the onnxruntime sessions. */
  close(): Promise<void>;
}

/** A model whose prefill and decode graphs are ONNX files in a folder. */
export class OnnxModel implements Model {
  readonly stateLayout: readonly StateTensorSpec[];
  constructor(
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    readonly source: string,
    readonly ep: Ep,
    readonly method: string,
    private readonly prefillSession: Session,
    private readonly decodeSession: Session,
    /** The longest prefill one run of the graph takes (longer inputs go in pieces). */
    readonly maxPrefill: number = Infinity,
  ) {
    this.stateLayout = archOfConfig(config).stateLayout(config);
  }

  /** Output locations that keep the states of `config` on the GPU (session option). */
  static deviceStateLocations(config: ModelConfig): Record<string, "cpu" | "gpu-buffer"> {
    const loc: Record<string, "cpu" | "gpu-buffer"> = { logits: "cpu" };
    for (const t of archOfConfig(config).stateLayout(config)) {
      loc[`present_${t.name}`] = "gpu-buffer";
    }
    return loc;
  }

  /** Opens `prefill.onnx` and `decode.onnx` from `dir`. */
  static async open(
    dir: string,
    meta: {
      config: ModelConfig;
      tokenizer: Tokenizer;
      source: string;
      method: string;
      maxPrefill?: number;
    },
    ep: Ep,
    threads?: number,
    deviceStates = false,
  ): Promise<OnnxModel> {
    if (deviceStates && ep === "cpu") {
      throw new KitError("deviceStates needs a GPU execution provider (webgpu or cuda)");
    }
    const outputLocation = deviceStates ? OnnxModel.deviceStateLocations(meta.config) : undefined;
    const { prefill, decode } = await createModelSessions(dir, ep, { threads, outputLocation });
    return new OnnxModel(
      meta.config,
      meta.tokenizer,
      meta.source,
      ep,
      meta.method,
      prefill,
      decode,
      meta.maxPrefill,
    );
  }

  initialState(batch: number): MambaState {
    return zeroState([...this.stateLayout], batch);
  }

  private feeds(ids: Tensor, state: MambaState): Record<string, Tensor> {
    const f: Record<string, Tensor> = { input_ids: ids };
    for (const t of this.stateLayout) {
      const x = state.tensors?.[t.name];
      if (!x) throw new KitError(`the state lacks '${t.name}' (a state of another model?)`);
      f[`past_${t.name}`] = x;
    }
    return f;
  }

  private stateOf(
    out: Record<string, Tensor>,
    batch: number,
    seen: number,
  ): MambaState {
    return makeState(
      [...this.stateLayout],
      batch,
      seen,
      (t) => out[`present_${t.name}`] as Tensor,
    );
  }

  private checkIds(ids: number[]): void {
    const v = this.config.vocab_size;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= v) {
        throw new KitError(`token id ${id} is out of range for a vocabulary of ${v}`);
      }
    }
  }

  async prefill(ids: number[][], state?: MambaState) {
    const b = ids.length, l = ids[0]?.length ?? 0;
    if (b === 0 || l === 0) throw new KitError("prefill needs at least one token");
    if (ids.some((s) => s.length !== l)) {
      throw new KitError("prefill: sequences of a batch must have equal length");
    }
    ids.forEach((s) => this.checkIds(s));
    state ??= this.initialState(b);
    if (state.batch !== b) {
      throw new KitError(`prefill: ${b} sequences for a state of a batch of ${state.batch}`);
    }
    if (l > this.maxPrefill) return await this.prefillInPieces(ids, state);
    const t = new Tensor("int64", BigInt64Array.from(ids.flat(), BigInt), [b, l]);
    const out = await this.prefillSession.run(this.feeds(t, state));
    return { logits: out.logits.data as Float32Array, state: this.stateOf(out, b, state.seen + l) };
  }

  /**
   * A prefill longer than one run takes: pieces of maxPrefill tokens, states carried. A graph
   * that computes the last position's logits only (the benchmark's) gives the last piece's.
   */
  private async prefillInPieces(ids: number[][], state: MambaState) {
    const b = ids.length, l = ids[0].length, v = this.config.vocab_size;
    let logits: Float32Array = new Float32Array(b * l * v);
    for (let start = 0; start < l; start += this.maxPrefill) {
      const piece = ids.map((s) => s.slice(start, start + this.maxPrefill));
      const p = piece[0].length;
      const r = await this.prefill(piece, state);
      if (start > 0) this.disposeState(state); // an intermediate state, not the caller's
      if (r.logits.length !== b * p * v) {
        logits = r.logits; // last-position logits only: the last piece's are the answer
      } else {
        for (let row = 0; row < b; row++) {
          logits.set(r.logits.subarray(row * p * v, (row + 1) * p * v), (row * l + start) * v);
        }
      }
      state = r.state;
    }
    return { logits, state };
  }

  async decode(ids: number[], state: MambaState) {
    this.checkIds(ids);
    if (ids.length !== state.batch) {
      throw new KitError(`decode: ${ids.length} tokens for a batch of ${state.batch}`);
    }
    const t = new Tensor("int64", BigInt64Array.from(ids, BigInt), [ids.length]);
    const out = await this.decodeSession.run(this.feeds(t, state));
    return {
      logits: out.logits.data as Float32Array,
      state: this.stateOf(out, ids.length, state.seen + 1),
    };
  }

  disposeState(state: MambaState): void {
    for (const t of Object.values(state.tensors)) if (t.location === "gpu-buffer") t.dispose();
  }

  async logits(ids: number[]): Promise<Float32Array> {
    return (await this.prefill([ids])).logits;
  }

  async generate(ids: number[], options: GenerateOptions): Promise<number[]> {
    const v = this.config.vocab_size;
    const out: number[] = [];
    const max = options?.maxNewTokens;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new KitError(`generate: maxNewTokens must be an integer >= 0, got ${max}`);
    }
    if (max === 0) return out;
    let { logits, state } = await this.prefill([ids]);
    let next = argmax(checkFinite(logits, (ids.length - 1) * v, v, 0), (ids.length - 1) * v, v);
    for (;;) {
      out.push(next);
      options.onToken?.(next);
      if (out.length >= options.maxNewTokens) break;
      if (options.stopAtEos && next === this.tokenizer.eosId) break;
      const old = state;
      ({ logits, state } = await this.decode([next], state));
      this.disposeState(old);
      next = argmax(checkFinite(logits, 0, v, out.length), 0, v);
    }
    this.disposeState(state);
    return out;
  }

  async close(): Promise<void> {
    await this.prefillSession.release();
    await this.decodeSession.release();
  }
}

/** `a[offset .. offset + n)` if every value is finite; else an error naming the step. */
function checkFinite(a: Float32Array, offset: number, n: number, step: number): Float32Array {
  for (let i = offset; i < offset + n; i++) {
    if (!Number.isFinite(a[i])) {
      throw new KitError(
        `the model's logits hold ${a[i]} at generated token ${step} (vocabulary index ${
          i - offset
        }): its weights or inputs are not usable`,
      );
    }
  }
  return a;
}

/** Index of the largest of `n` values from `offset` (the first on ties, like torch.argmax). */
export function argmax(a: Float32Array, offset: number, n: number): number {
  let best = 0, bv = -Infinity;
  for (let i = 0; i < n; i++) {
    if (a[offset + i] > bv) {
      bv = a[offset + i];
      best = i;
    }
  }
  return best;
}

/**
 * Graph options for a precision on an EP: float16 compute needs a GPU EP; GPU EPs get the
 * parallel scan (a Scan pays a fixed cost per time step there), the CPU the sequential one,
 * unless the architecture of `config` says otherwise (Mamba-2: SSD's chunked form everywhere).
 */
export function graphOptions(
  dtype: Dtype,
  ep: Ep,
  scan?: GraphOptions["scan"],
  config?: ModelConfig,
): GraphOptions {
  const s = scan ?? (config && archOfConfig(config).defaultScan?.(ep)) ??
    (ep === "cpu" ? "sequential" : "parallel");
  if (dtype === "fp32") return { weights: "float32", compute: "float32", scan: s };
  return { weights: "float16", compute: ep === "cpu" ? "float32" : "float16", scan: s };
}

/** A folder name for graphs built with `opt` (e.g. `float32-float32-parallel`). */
export function graphVariant(opt: GraphOptions): string {
  const scan = opt.scan === "parallel" || opt.scan === "fused" ? `-${opt.scan}` : "";
  return `${opt.weights}-${opt.compute}${scan}`;
}

/** The longest prefill one run of graphs built with `opt` (for `config`'s architecture) takes. */
export function maxPrefillOf(opt: GraphOptions, config?: ModelConfig): number {
  const own = config && archOfConfig(config).maxPrefill?.(opt);
  if (own !== undefined) return own;
  return opt.scan === "parallel" ? PARALLEL_SCAN_MAX : Infinity;
}

/** Writes `prefill.onnx`, `decode.onnx` and their shared `weights.bin` into `dir`. */
export async function buildGraphs(
  dir: string,
  config: ModelConfig,
  src: WeightSource,
  opt: GraphOptions,
  metadata: Record<string, string> = {},
): Promise<void> {
  const arch = archOfConfig(config);
  const prefill = arch.buildPrefill(config, src, opt);
  const decode = arch.buildDecode(config, src, opt);
  await writeModelFolder(dir, { "prefill.onnx": prefill, "decode.onnx": decode }, {
    metadata: { ...metadata, weights: opt.weights, compute: opt.compute },
  });
}

/**
 * Builds (or finds in the cache) the ONNX graphs of a checkpoint and opens them.
 *
 * @example
 * ```ts
 * const ckpt = await openCheckpoint("data/models/embedded");
 * const model = await modelFromCheckpoint(ckpt, { ep: "cpu", dtype: "fp32" });
 * ```
 */
export async function modelFromCheckpoint(
  ckpt: Checkpoint,
  options: LoadOptions = {},
): Promise<OnnxModel> {
  const ep = parseEp(options.ep ?? "cpu");
  const dtype = options.dtype ?? "fp32";
  if (dtype !== "fp32" && dtype !== "fp16") {
    throw new KitError(`unknown dtype '${dtype}' (expected fp32 or fp16)`);
  }
  const tokenizer = await isFile(join(ckpt.dir, "tokenizer.json"))
    ? checkVocab(await loadTokenizer(ckpt.dir), ckpt.config, ckpt.dir)
    : missingTokenizer(ckpt.dir);
  const opt = graphOptions(dtype, ep, options.scan, ckpt.config);
  const dir = await graphCacheDir(ckpt, graphVariant(opt), options.cacheDir);
  if (!(await isFile(join(dir, "decode.onnx")))) {
    await buildGraphs(dir, ckpt.config, ckpt.src, opt, { source: ckpt.dir, dtype });
  }
  return await OnnxModel.open(
    dir,
    {
      config: ckpt.config,
      tokenizer,
      source: ckpt.dir,
      method: dtype,
      maxPrefill: maxPrefillOf(opt, ckpt.config),
    },
    ep,
    options.threads,
    options.deviceStates,
  );
}

/**
 * Loads a Hugging Face Mamba-1 or Jamba checkpoint folder (config.json, model.safetensors,
 * tokenizer.json),
 * or a quantized model folder saved by `quantize`, and returns a model that runs in onnxruntime.
 *
 * @example
 * ```ts
 * import { loadModel } from "./mod.ts";
 * const model = await loadModel("data/models/embedded");
 * const ids = model.tokenizer.encode("The Time Traveller");
 * console.log(model.tokenizer.decode(await model.generate(ids, { maxNewTokens: 20 })));
 * await model.close();
 * ```
 */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<Model> {
  // a quantized folder saved by `quantize`
  if (await isQuantizedFolder(dir)) {
    if (options.dtype && options.dtype !== "fp32") {
      throw new KitError(`${dir}: a quantized model has no '${options.dtype}' variant`);
    }
    return await loadQuantized(dir, {
      ep: options.ep,
      threads: options.threads,
      deviceStates: options.deviceStates,
    });
  }
  return await modelFromCheckpoint(await openCheckpoint(dir), options);
}

/** A quantized model: a `Model`, and the folder it was saved to. */
export interface QuantizedModel extends Model {
  readonly dir: string;
  readonly plan: QuantPlan;
}

/**
 * Opens a quantized model folder written by `quantize` (no recalibration).
 *
 * @example
 * ```ts
 * const q = await loadQuantized("out/embedded-quamba");
 * ```
 */
export async function loadQuantized(
  dir: string,
  options: { ep?: Ep; threads?: number; deviceStates?: boolean } = {},
): Promise<QuantizedModel> {
  const folder = await readQuantizedFolder(dir);
  const tokenizer = await isFile(join(dir, "tokenizer.json"))
    ? checkVocab(await loadTokenizer(dir), folder.config, dir)
    : missingTokenizer(dir);
  const model = await OnnxModel.open(
    dir,
    { config: folder.config, tokenizer, source: folder.sourceModel, method: folder.method },
    options.ep ?? "cpu",
    options.threads,
    options.deviceStates,
  );
  const plan: QuantPlan = {
    method: folder.method,
    percentile: folder.percentile,
    spec: methodSpec(folder.method),
    layers: folder.layers,
  };
  return Object.assign(model, { dir, plan });
}

/**
 * A tokenizer whose ids all fit the model's vocabulary (`vocab_size` rows of the embedding; a
 * model may have more rows than the tokenizer has tokens, never fewer).
 */
export function checkVocab(tok: Tokenizer, config: ModelConfig, dir: string): Tokenizer {
  if (tok.vocabSize > config.vocab_size) {
    throw new KitError(
      `${join(dir, "tokenizer.json")}: the tokenizer has ${tok.vocabSize} tokens, more than the ` +
        `model's vocabulary (vocab_size ${config.vocab_size} in ${join(dir, "config.json")}): ` +
        `it belongs to another model`,
    );
  }
  return tok;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
