/**
 * `OrtIoBinding`: a session's inputs and outputs bound once to values (host arrays or device
 * buffers) and run many times without passing them again. Outputs bound to a preallocated
 * value are written in place (a generation loop can keep two state buffer sets and two
 * bindings, A→B and B→A, and alternate); outputs bound to a device are allocated by the run
 * and read back with `outputs()`.
 */
import { KitError } from "../errors.ts";
import { ort, ortAsync } from "./api.ts";
import { cString, OutPointer } from "./ffi.ts";
import { NativeHandle } from "./handle.ts";
import { type Device, hostAllocator, type MemoryInfo } from "./memory.ts";
import { outputTensor } from "./outputs.ts";
import type { RunOptions } from "./run_options.ts";
import type { Session } from "./session.ts";
import { check } from "./status.ts";
import type { Tensor } from "./tensor.ts";
import type { OrtValue } from "./value.ts";
import { breathe } from "./calls.ts";

type Bindable = Tensor | OrtValue;

function valueOf(x: Bindable): OrtValue {
  return "ortValue" in x ? x.ortValue() : x;
}

/**
 * An IO binding of a session.
 *
 * @example
 * ```ts
 * const b = session.ioBinding();
 * b.bindInput("x", x);
 * b.bindOutput("y", y); // y: a Tensor over a preallocated array, written by each run
 * await b.run();
 * b.close();
 * ```
 */
export class IoBinding {
  readonly handle: NativeHandle;
  /** What is bound, kept alive while bound (onnxruntime does not own host arrays). */
  #inputs = new Map<string, Bindable>();
  #outputs = new Map<string, Bindable | MemoryInfo>();
  #outputOrder: string[] = [];

  constructor(readonly session: Session) {
    const out = new OutPointer();
    check(ort().CreateIoBinding(session.ptr, out.slot()), `CreateIoBinding(${session.source})`);
    this.handle = new NativeHandle(
      `OrtIoBinding(${session.source})`,
      out.get()!,
      (p) => ort().ReleaseIoBinding(p),
      [session],
    );
  }

  get ptr(): Deno.PointerObject {
    return this.handle.ptr;
  }

  /** Binds input `name` to a tensor (host array or device buffer). */
  bindInput(name: string, x: Bindable): this {
    check(ort().BindInput(this.ptr, cString(name), valueOf(x).ptr), `BindInput(${name})`);
    this.#inputs.set(name, x);
    return this;
  }

  /** Binds output `name` to a preallocated tensor that each run writes into. */
  bindOutput(name: string, x: Bindable): this {
    check(ort().BindOutput(this.ptr, cString(name), valueOf(x).ptr), `BindOutput(${name})`);
    this.#setOutput(name, x);
    return this;
  }

  /** Binds output `name` to memory of `device` (allocated by each run; see `outputs()`). */
  bindOutputToDevice(name: string, memory: MemoryInfo | Device): this {
    const info = typeof memory === "string" ? this.session.memoryInfo(memory) : memory;
    check(
      ort().BindOutputToDevice(this.ptr, cString(name), info.ptr),
      `BindOutputToDevice(${name})`,
    );
    this.#setOutput(name, info);
    return this;
  }

  #setOutput(name: string, x: Bindable | MemoryInfo) {
    if (!this.#outputs.has(name)) this.#outputOrder.push(name);
    this.#outputs.set(name, x);
  }

  /** Names of the bound outputs, in the order `outputs()` returns them. */
  get outputNames(): string[] {
    return [...this.#outputOrder];
  }

  /** Runs the session on what is bound. */
  async run(runOptions?: RunOptions): Promise<void> {
    if (this.#outputs.size === 0) throw new KitError(`${this.handle.kind}: no output is bound`);
    const s = this.session, ro = runOptions?.ptr ?? null;
    const t0 = performance.now(), blocking = !s.calls.offThread;
    const status = blocking
      ? ort().RunWithBinding(s.ptr, ro, this.ptr)
      : await s.calls.track(ortAsync().RunWithBinding(s.ptr, ro, this.ptr));
    const ms = performance.now() - t0;
    s.calls.record(ms);
    if (blocking) await breathe(ms);
    check(status, `RunWithBinding(${s.source})`);
  }

  /** The bound outputs after a run, in binding order: device values as device tensors,
   * host values copied to JS arrays. */
  outputs(): Tensor[] {
    const api = ort(), alloc = hostAllocator();
    const arr = new BigUint64Array(1), count = new BigUint64Array(1);
    check(api.GetBoundOutputValues(this.ptr, alloc, arr, count), "GetBoundOutputValues");
    const n = Number(count[0]);
    if (n === 0) return [];
    const base = Deno.UnsafePointer.create(arr[0])!;
    const view = new Deno.UnsafePointerView(base);
    const ptrs = Array.from({ length: n }, (_, i) => view.getPointer(i * 8));
    check(api.AllocatorFree(alloc, base), "AllocatorFree");
    const tensors: Tensor[] = [];
    try {
      for (const p of ptrs) tensors.push(outputTensor(p, this.session.device !== "cpu"));
    } catch (e) {
      tensors.forEach((t) => t.dispose());
      for (const p of ptrs.slice(tensors.length + 1)) if (p) api.ReleaseValue(p);
      throw e;
    }
    return tensors;
  }

  /** Unbinds every input. */
  clearInputs(): void {
    ort().ClearBoundInputs(this.ptr);
    this.#inputs.clear();
  }

  /** Unbinds every output. */
  clearOutputs(): void {
    ort().ClearBoundOutputs(this.ptr);
    this.#outputs.clear();
    this.#outputOrder = [];
  }

  /** Waits for the device copies of bound inputs (provider-specific; may do nothing). */
  synchronizeInputs(): void {
    check(ort().SynchronizeBoundInputs(this.ptr), "SynchronizeBoundInputs");
  }

  /** Waits for the device writes of bound outputs (provider-specific; may do nothing). */
  synchronizeOutputs(): void {
    check(ort().SynchronizeBoundOutputs(this.ptr), "SynchronizeBoundOutputs");
  }

  close(): void {
    this.handle.close();
    this.#inputs.clear();
    this.#outputs.clear();
  }
}
