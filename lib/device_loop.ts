/**
 * Greedy generation that touches the host only for what it must: the token ids.
 *
 * The graphs choose the next token themselves (`next_ids`, lib/onnx/next_token.ts). The
 * recurrent states and the ids live in two preallocated sets of buffers on the execution
 * provider's device, A and B; a decode step reads one set and writes the other through an IO
 * binding (A→B, then B→A), so nothing is allocated or copied between steps, and on GPU EPs each
 * of the two bindings can be captured once as a device graph (CUDA graphs on the CUDA EP, graph
 * capture on WebGPU; run option `gpu_graph_id` 1 and 2) and replayed. The host reads 8 bytes of
 * ids per step. On the CPU EP the same code runs with host buffers (no capture).
 *
 * The states are those of the architecture's layout (lib/arch/types.ts), which must be of fixed
 * size: Mamba's conv windows and SSM states. Attention's key/value caches grow with every token,
 * so a hybrid (Jamba) cannot be captured this way and is refused.
 *
 * Glossary: b = batch (sequences).
 */
import { KitError } from "./errors.ts";
import { type IoBinding, OrtValue, RunOptions, type Session, Tensor } from "./ort/mod.ts";
import { HostReader } from "./ort/copy_session.ts";
import type { TensorType } from "./ort/mod.ts";
import { NEXT_IDS } from "./onnx/next_token.ts";
import type { Ep } from "./runtime.ts";
import type { StateTensorSpec } from "./arch/types.ts";

/** One set of device buffers: the ids a step reads (or writes) and the states by name. */
interface BufferSet {
  ids: Tensor<"int64">;
  states: Map<string, Tensor<"float32">>;
  /** Copies `ids` to the host (device buffers: through the provider; host buffers: as they are). */
  read?: HostReader;
}

export interface DeviceLoopOptions {
  /** Sequences decoded together (default 1). */
  batch?: number;
  /** Capture each decode binding as a device graph and replay it (GPU EPs; default true there). */
  graphCapture?: boolean;
  /** The longest prefill one run of the prefill graph takes (longer prompts go in pieces). */
  maxPrefill?: number;
}

export interface LoopGenerateOptions {
  maxNewTokens: number;
  /** Stop after this token (per sequence, a batch stops when all have). */
  eosId?: number;
  /** Each step's new ids, as soon as the host has them. */
  onTokens?: (ids: number[]) => void;
}

/**
 * A greedy generation loop over a model's prefill and decode sessions, whose graphs have the
 * `next_ids` output.
 *
 * @example
 * ```ts
 * const layout = archOfConfig(config).stateLayout(config);
 * const loop = await DeviceLoop.open(prefill, decode, "cuda", layout);
 * const ids = await loop.generate([tokens], { maxNewTokens: 64 });
 * loop.close();
 * ```
 */
export class DeviceLoop {
  #steps = 0;
  #closed = false;

  private constructor(
    readonly ep: Ep,
    readonly batch: number,
    private readonly prefill: Session,
    private readonly decode: Session,
    private readonly sets: [BufferSet, BufferSet],
    private readonly bindings: [IoBinding, IoBinding],
    private readonly runOptions: [RunOptions, RunOptions] | undefined,
    private readonly zeros: BufferSet,
    private readonly maxPrefill: number,
  ) {}

  /** Allocates the buffer sets on the decode session's device and binds the two steps. */
  static async open(
    prefill: Session,
    decode: Session,
    ep: Ep,
    layout: StateTensorSpec[],
    options: DeviceLoopOptions = {},
  ): Promise<DeviceLoop> {
    for (const s of [prefill, decode]) {
      if (!s.outputNames.includes(NEXT_IDS)) {
        throw new KitError(`${s.source}: the graph has no '${NEXT_IDS}' output (addNextToken)`);
      }
    }
    const growing = layout.find((t) => t.grows);
    if (growing) {
      throw new KitError(
        `the device loop needs states of fixed size; '${growing.name}' grows with every token ` +
          `(attention caches): generate with Model.generate instead`,
      );
    }
    const b = options.batch ?? 1;
    const alloc = <T extends TensorType>(type: T, dims: number[]): Tensor<T> => {
      if (decode.device === "cpu") return hostZeros(type, dims);
      const value = OrtValue.allocate(decode.allocator(), type, dims);
      return Tensor.onDevice(value, type, dims, decode.device);
    };
    const set = (): BufferSet => ({
      ids: alloc("int64", [b]),
      states: new Map(layout.map((t) => [t.name, alloc("float32", t.dims(b, 0))])),
    });
    const sets: [BufferSet, BufferSet] = [set(), set()];
    if (decode.device !== "cpu") {
      for (const s of sets) {
        const v = s.ids.ortValue();
        s.read = await HostReader.open(v, "int64", [b], decode.device, v.deviceId());
      }
    }
    const zeros: BufferSet = {
      ids: hostZeros("int64", [b]),
      states: new Map(layout.map((t) => [t.name, hostZeros("float32", t.dims(b, 0))])),
    };
    const step = (from: BufferSet, to: BufferSet) => bindStep(decode.ioBinding(), from, to);
    const bindings: [IoBinding, IoBinding] = [step(sets[0], sets[1]), step(sets[1], sets[0])];
    const capture = (options.graphCapture ?? ep !== "cpu") && ep !== "cpu";
    const runOptions = capture
      ? [1, 2].map((id) => new RunOptions({ config: { gpu_graph_id: String(id) } })) as [
        RunOptions,
        RunOptions,
      ]
      : undefined;
    return new DeviceLoop(
      ep,
      b,
      prefill,
      decode,
      sets,
      bindings,
      runOptions,
      zeros,
      options.maxPrefill ?? Infinity,
    );
  }

  /**
   * Prefills `prompts` (equal lengths) from zero states into set A, then decodes greedily;
   * returns each sequence's new ids.
   */
  async generate(prompts: number[][], options: LoopGenerateOptions): Promise<number[][]> {
    if (this.#closed) throw new KitError("DeviceLoop used after close()");
    const b = this.batch, max = options.maxNewTokens;
    if (prompts.length !== b) {
      throw new KitError(`generate: ${prompts.length} prompts for a batch of ${b}`);
    }
    const l = prompts[0]?.length ?? 0;
    if (l === 0 || prompts.some((p) => p.length !== l)) {
      throw new KitError("generate: the prompts must be non-empty and of equal length");
    }
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new KitError(`generate: maxNewTokens must be an integer >= 0, got ${max}`);
    }
    const out: number[][] = prompts.map(() => []);
    if (max === 0) return out;
    let cur = await this.#prefill(prompts);
    const done = prompts.map(() => false);
    for (;;) {
      const set = this.sets[cur];
      const ids = Array.from(
        (set.read ? await set.read.read() : set.ids.data) as BigInt64Array,
        Number,
      );
      ids.forEach((id, i) => {
        if (!done[i]) out[i].push(id);
        if (id === options.eosId) done[i] = true;
      });
      options.onTokens?.(ids);
      if (out[0].length >= max || done.every(Boolean)) return out;
      await this.bindings[cur].run(this.runOptions?.[cur]);
      this.#steps++;
      cur = 1 - cur;
    }
  }

  /** Decode steps run since the loop was opened (each replay counts one). */
  get steps(): number {
    return this.#steps;
  }

  /** Runs the prompt in pieces of at most maxPrefill tokens; returns the set holding the result. */
  async #prefill(prompts: number[][]): Promise<0 | 1> {
    const b = this.batch, l = prompts[0].length;
    let from: BufferSet = this.zeros, cur: 0 | 1 = 0;
    for (let start = 0; start < l; start += this.maxPrefill) {
      const piece = prompts.map((p) => p.slice(start, start + this.maxPrefill));
      const ids = new Tensor(
        "int64",
        BigInt64Array.from(piece.flat(), BigInt),
        [b, piece[0].length],
      );
      const binding = this.prefill.ioBinding();
      try {
        binding.bindInput("input_ids", ids);
        bindStates(binding, from, "past");
        bindStates(binding, this.sets[cur], "present");
        binding.bindOutput(NEXT_IDS, this.sets[cur].ids);
        await binding.run();
      } finally {
        binding.close();
        ids.dispose();
      }
      from = this.sets[cur];
      cur = (1 - cur) as 0 | 1;
    }
    return (1 - cur) as 0 | 1;
  }

  /** Releases the bindings, run options and buffers (the sessions stay the caller's). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.bindings.forEach((b) => b.close());
    this.runOptions?.forEach((r) => r.close());
    for (const s of [...this.sets, this.zeros]) {
      s.read?.close();
      for (const t of [s.ids, ...s.states.values()]) t.dispose();
    }
  }
}

function hostZeros<T extends TensorType>(type: T, dims: number[]): Tensor<T> {
  const n = dims.reduce((a, c) => a * c, 1);
  const data = type === "int64" ? new BigInt64Array(n) : new Float32Array(n);
  return new Tensor(type, data as never, dims);
}

function bindStates(b: IoBinding, set: BufferSet, role: "past" | "present") {
  for (const [name, t] of set.states) {
    if (role === "past") b.bindInput(`past_${name}`, t);
    else b.bindOutput(`present_${name}`, t);
  }
}

function bindStep(b: IoBinding, from: BufferSet, to: BufferSet): IoBinding {
  b.bindInput("input_ids", from.ids);
  bindStates(b, from, "past");
  b.bindOutput(NEXT_IDS, to.ids);
  bindStates(b, to, "present");
  return b;
}
