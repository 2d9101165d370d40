/**
 * An onnxruntime inference session through the C API: created from a model file or bytes,
 * its inputs' and outputs' names and types, `run` (feeds in, outputs copied to JS arrays, or
 * left in device memory where asked), profiling, and an explicit `release()`.
 */
import { KitError } from "../errors.ts";
import { ort, ortAsync } from "./api.ts";
import { ortEnv } from "./env.ts";
import { cString, OutPointer } from "./ffi.ts";
import { NativeHandle } from "./handle.ts";
import { IoBinding } from "./io_binding.ts";
import { Allocator, type Device, freeHostString, hostAllocator, MemoryInfo } from "./memory.ts";
import { outputsOf } from "./outputs.ts";
import type { RunOptions } from "./run_options.ts";
import { createSessionOptions, type SessionConfig } from "./session_options.ts";
import { check } from "./status.ts";
import type { Tensor, TensorLocation } from "./tensor.ts";
import { hostValue } from "./value.ts";
import { breathe, type CallMode, Calls, defaultCallMode } from "./calls.ts";
import { type IoInfo, sessionIo } from "./session_io.ts";
import type { PrepackedWeights, SharedWeights } from "./weights.ts";

/** How a session is created and run. */
export interface SessionOptions extends SessionConfig {
  /** A container that shares prepacked weights with other sessions (with `initializers`). */
  prepacked?: PrepackedWeights;
  /** Weights shared with other sessions: the session holds them (`retain`) until released. */
  shared?: SharedWeights;
  /** Where outputs are left: "gpu-buffer" keeps them in the provider's device memory. With
   * any location given, runs go through the session's IO binding, every output bound to its
   * location's memory (the host's where none is given). */
  outputLocation?: Record<string, TensorLocation>;
  /** A name for messages (default: the model path, or its size for bytes). */
  label?: string;
  /** Whether runs go to a thread of Deno's blocking pool (the event loop keeps going, at the
   * price of a thread hand-off per run) or run on the calling thread. "auto": off-thread when
   * the session's previous run took longer than `LONG_RUN_MS` (a prefill), on the calling
   * thread otherwise (a decode step). Default: `$QUAMBA_ORT_NONBLOCKING` ("1", "0" or
   * "auto"), else "auto". */
  nonblocking?: CallMode;
}

function providerDevice(o: SessionOptions): Device {
  const first = o.providers?.find((p) => p.name !== "cpu");
  if (!first) return "cpu";
  return first.name === "cuda" ? "cuda" : "webgpu";
}

function deviceIdOf(o: SessionOptions): number {
  const first = o.providers?.find((p) => p.name !== "cpu");
  return (first?.name === "cuda" || first?.name === "webgpu") ? first.options?.deviceId ?? 0 : 0;
}

/**
 * An inference session.
 *
 * @example
 * ```ts
 * const s = await Session.create("model.onnx", { intraOpThreads: 2 });
 * const out = await s.run({ x: new Tensor("float32", new Float32Array(4), [4]) });
 * await s.release();
 * ```
 */
export class Session {
  readonly handle: NativeHandle;
  readonly inputs: IoInfo[];
  readonly outputs: IoInfo[];
  /** The device of the session's execution provider ("cpu" for the CPU EP). */
  readonly device: Device;
  /** How runs call into onnxruntime (see `SessionOptions.nonblocking`). */
  readonly calls: Calls;
  readonly outputLocation: Readonly<Record<string, TensorLocation>>;
  #names = new Map<string, { c: Uint8Array; ptr: bigint }>();
  #binding: IoBinding | undefined;
  #memory = new Map<string, MemoryInfo>();
  #shared: SharedWeights | undefined;

  private constructor(
    ptr: Deno.PointerObject,
    readonly source: string,
    o: SessionOptions,
    keep: unknown[],
  ) {
    this.handle = new NativeHandle(
      `OrtSession(${source})`,
      ptr,
      (p) => ort().ReleaseSession(p),
      keep,
    );
    this.device = providerDevice(o);
    this.calls = new Calls(o.nonblocking ?? defaultCallMode());
    this.outputLocation = { ...o.outputLocation };
    try {
      this.inputs = sessionIo(ptr, "input");
      this.outputs = sessionIo(ptr, "output");
      const outs = new Set(this.outputs.map((x) => x.name));
      for (const [name, loc] of Object.entries(this.outputLocation)) {
        if (!outs.has(name)) {
          throw new KitError(`${source}: outputLocation names '${name}', not an output`);
        }
        if (loc !== "cpu" && loc !== "gpu-buffer") {
          throw new KitError(
            `${source}: outputLocation '${name}' must be "cpu" or "gpu-buffer", got '${loc}'`,
          );
        }
        if (loc === "gpu-buffer" && this.device === "cpu") {
          throw new KitError(
            `${source}: output '${name}' cannot stay on a GPU: the session runs on the CPU`,
          );
        }
      }
    } catch (e) {
      this.handle.close();
      throw e;
    }
    this.deviceId = deviceIdOf(o);
  }

  /** The device ordinal of the session's provider. */
  readonly deviceId: number;

  /** Creates a session from a model file (or its bytes; external data then needs
   * `session.model_external_initializers_file_folder_path` in `config`). */
  static async create(model: string | Uint8Array, options: SessionOptions = {}): Promise<Session> {
    const so = createSessionOptions(options);
    const source = options.label ??
      (typeof model === "string" ? model : `${model.byteLength} bytes`);
    const out = new OutPointer();
    try {
      const env = ortEnv();
      // loading takes long: always off the event loop (a thread of Deno's blocking pool)
      const a = ortAsync(), pw = options.prepacked?.ptr;
      let status: Deno.PointerValue;
      if (typeof model === "string") {
        const path = cString(model);
        status = pw
          ? await a.CreateSessionWithPrepackedWeightsContainer(env, path, so.ptr, pw, out.slot())
          : await a.CreateSession(env, path, so.ptr, out.slot());
      } else {
        const n = BigInt(model.byteLength);
        status = pw
          ? await a.CreateSessionFromArrayWithPrepackedWeightsContainer(
            env,
            model,
            n,
            so.ptr,
            pw,
            out.slot(),
          )
          : await a.CreateSessionFromArray(env, model, n, so.ptr, out.slot());
      }
      check(status, `CreateSession(${source})`);
      // AddInitializer's values and the prepacked container must outlive the session
      const keep = [...(options.initializers?.values() ?? []), options.prepacked].filter(Boolean);
      const session = new Session(out.get()!, source, options, keep);
      if (options.shared) {
        options.shared.retain();
        session.#shared = options.shared;
      }
      return session;
    } finally {
      so.close();
    }
  }

  get ptr(): Deno.PointerObject {
    return this.handle.ptr;
  }

  get inputNames(): string[] {
    return this.inputs.map((x) => x.name);
  }

  get outputNames(): string[] {
    return this.outputs.map((x) => x.name);
  }

  /** The C string of a name (cached per session) as a pointer value. */
  namePtr(name: string): bigint {
    let n = this.#names.get(name);
    if (!n) {
      const c = cString(name);
      n = { c, ptr: BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(c))) };
      this.#names.set(name, n);
    }
    return n.ptr;
  }

  /**
   * Runs the model: `feeds` by input name, `fetches` the outputs wanted (default all). Host
   * outputs come back as JS arrays; outputs whose `outputLocation` is "gpu-buffer" stay in
   * device memory (dispose them when done).
   */
  async run(
    feeds: Record<string, Tensor>,
    fetches?: readonly string[],
    runOptions?: RunOptions,
  ): Promise<Record<string, Tensor>> {
    const wanted = fetches ?? this.outputNames;
    if (Object.keys(this.outputLocation).length) {
      return await this.#runBound(feeds, wanted, runOptions);
    }
    const names = Object.keys(feeds);
    const inNames = new BigUint64Array(Math.max(names.length, 1));
    const inValues = new BigUint64Array(Math.max(names.length, 1));
    // host feeds get a value over their array for this run only, released right after it
    // (deterministic: no finalizer to wait for); device feeds pass their own value
    const temporary: Deno.PointerObject[] = [];
    try {
      names.forEach((name, i) => {
        const t = feeds[name];
        if (!t || typeof t.ortValue !== "function") {
          throw new KitError(`${this.source}: feed '${name}' is not a Tensor`);
        }
        inNames[i] = this.namePtr(name);
        const host = t.hostData;
        let v: Deno.PointerObject;
        if (host) {
          v = hostValue(t.type, host, t.dims);
          temporary.push(v);
        } else v = t.ortValue().ptr;
        inValues[i] = BigInt(Deno.UnsafePointer.value(v));
      });
      return await this.#run(names.length, inNames, inValues, wanted, runOptions);
    } finally {
      for (const v of temporary) ort().ReleaseValue(v);
    }
  }

  async #run(
    nInputs: number,
    inNames: BigUint64Array<ArrayBuffer>,
    inValues: BigUint64Array<ArrayBuffer>,
    wanted: readonly string[],
    runOptions?: RunOptions,
  ): Promise<Record<string, Tensor>> {
    const outNames = BigUint64Array.from(wanted, (n) => this.namePtr(n));
    const outValues = new BigUint64Array(Math.max(wanted.length, 1));
    const ro = runOptions?.ptr ?? null;
    const args = [
      this.ptr,
      ro,
      inNames,
      inValues,
      BigInt(nInputs),
      outNames,
      BigInt(wanted.length),
      outValues,
    ] as const;
    const t0 = performance.now(), blocking = !this.calls.offThread;
    const status = blocking ? ort().Run(...args) : await this.calls.track(ortAsync().Run(...args));
    const ms = performance.now() - t0;
    this.calls.record(ms);
    if (blocking) await breathe(ms);
    if (status !== null) {
      for (const v of outValues.subarray(0, wanted.length)) {
        if (v) ort().ReleaseValue(Deno.UnsafePointer.create(v));
      }
      check(status, `Run(${this.source})`);
    }
    return outputsOf(wanted, outValues, this.device !== "cpu");
  }

  /** A run through this session's IO binding: outputs bound to their `outputLocation`. */
  async #runBound(
    feeds: Record<string, Tensor>,
    wanted: readonly string[],
    runOptions?: RunOptions,
  ) {
    const b = this.#binding ??= this.ioBinding();
    b.clearInputs();
    b.clearOutputs();
    for (const [name, t] of Object.entries(feeds)) b.bindInput(name, t);
    for (const name of wanted) {
      b.bindOutputToDevice(
        name,
        this.memoryInfo(this.outputLocation[name] === "gpu-buffer" ? this.device : "cpu"),
      );
    }
    try {
      await b.run(runOptions);
      const values = b.outputs();
      return Object.fromEntries(wanted.map((name, i) => [name, values[i]]));
    } finally {
      b.clearInputs();
      b.clearOutputs();
    }
  }

  /** The memory info of `device` for this session's provider (device ordinal included). */
  memoryInfo(device: Device): MemoryInfo {
    let m = this.#memory.get(device);
    if (!m) {
      m = MemoryInfo.of(device, device === "cpu" ? 0 : this.deviceId);
      this.#memory.set(device, m);
    }
    return m;
  }

  /** An IO binding of this session (bind inputs and outputs once, run many times). */
  ioBinding(): IoBinding {
    return new IoBinding(this);
  }

  /** The session's allocator of `device` memory (for preallocated device tensors). */
  allocator(device: Device = this.device): Allocator {
    const out = new OutPointer();
    const info = this.memoryInfo(device);
    check(ort().CreateAllocator(this.ptr, info.ptr, out.slot()), `CreateAllocator(${device})`);
    return new Allocator(out.get()!, info, this);
  }

  /** Ends profiling; returns the JSON trace file onnxruntime wrote. */
  endProfiling(): string {
    const out = new OutPointer();
    check(
      ort().SessionEndProfiling(this.ptr, hostAllocator(), out.slot()),
      `SessionEndProfiling(${this.source})`,
    );
    return freeHostString(out.get());
  }

  /** Whether `release()` ran. */
  get released(): boolean {
    return this.handle.closed;
  }

  /** Releases the native session once its runs in flight are done (a second call does
   * nothing). */
  async release(): Promise<void> {
    await this.calls.settled();
    this.#binding?.close();
    this.#binding = undefined;
    this.handle.close();
    for (const m of this.#memory.values()) m.close();
    this.#memory.clear();
    this.#shared?.unref();
    this.#shared = undefined;
  }
}
