/**
 * Weights shared between the sessions of one model folder (the kit's `prefill.onnx` and
 * `decode.onnx` over one `weights.bin`), for the CPU execution provider:
 * - each graph is rewritten so that its MatMuls read the stored weights themselves
 *   (`fuseWeightTransposes`: otherwise every session folds its own transposed copies);
 * - the external-data file is mapped once (read once where mappings are unavailable) and every
 *   external initializer becomes one `OrtValue` over it, given to each session with
 *   `AddInitializer`;
 * - a prepacked-weights container lets the sessions share the packed forms their kernels make
 *   of those initializers;
 * - `trim()` drops the mapping's resident pages: after packing, the kernels read the packed
 *   copy, and the few weights still read at run time (embedding rows) come back from the file.
 */
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { KitError } from "../errors.ts";
import { ort } from "./api.ts";
import { TENSOR_TYPES, type TensorType, typeOfCode } from "./dtypes.ts";
import { OutPointer } from "./ffi.ts";
import { NativeHandle } from "./handle.ts";
import { type FileMapping, mapFile } from "./mmap.ts";
import { fuseWeightTransposes } from "./shareable.ts";
import { check } from "./status.ts";
import { OrtValue } from "./value.ts";

const onnx = onnxProto.onnx;

/**
 * An `OrtPrepackedWeightsContainer`: sessions created with it share the prepacked buffers of
 * initializers they were given with `AddInitializer`. Release it after those sessions.
 *
 * @example
 * ```ts
 * const pw = new PrepackedWeights();
 * const a = await Session.create("a.onnx", { prepacked: pw, initializers });
 * ```
 */
export class PrepackedWeights {
  readonly handle: NativeHandle;
  constructor() {
    const out = new OutPointer();
    check(ort().CreatePrepackedWeightsContainer(out.slot()), "CreatePrepackedWeightsContainer");
    this.handle = new NativeHandle(
      "OrtPrepackedWeightsContainer",
      out.get()!,
      (p) => ort().ReleasePrepackedWeightsContainer(p),
    );
  }
  get ptr(): Deno.PointerObject {
    return this.handle.ptr;
  }
  close(): void {
    this.handle.close();
  }
}

/** Where one external initializer's bytes are. */
export interface ExternalInitializer {
  name: string;
  type: TensorType;
  dims: number[];
  file: string;
  offset: number;
  length: number;
}

/**
 * The initializers of a model whose data is external (onnx `external_data` entries).
 *
 * @example
 * ```ts
 * externalInitializers(model, "decode.onnx")[0]; // { name, type, dims, file: "weights.bin", offset, length }
 * ```
 */
export function externalInitializers(
  model: onnxProto.onnx.IModelProto,
  source: string,
): ExternalInitializer[] {
  const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;
  const out: ExternalInitializer[] = [];
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataLocation !== EXTERNAL) continue;
    const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    const type = typeOfCode(t.dataType ?? 0);
    const dims = (t.dims ?? []).map(Number);
    const n = dims.reduce((a, b) => a * b, 1);
    const length = kv.length !== undefined ? Number(kv.length) : n * TENSOR_TYPES[type].bytes;
    if (!kv.location) {
      throw new KitError(`${source}: initializer '${t.name}' has external data but no location`);
    }
    out.push({
      name: t.name!,
      type,
      dims,
      file: kv.location,
      offset: Number(kv.offset ?? 0),
      length,
    });
  }
  return out;
}

/** Bytes of an external-data file: mapped, or read into memory. */
type FileBytes = { map: FileMapping } | { bytes: Uint8Array };

/**
 * The weights of several graphs of one folder, shared.
 *
 * @example
 * ```ts
 * const w = await SharedWeights.load(dir, ["prefill.onnx", "decode.onnx"]);
 * const prefill = await Session.create(w.model("prefill.onnx"), {
 *   initializers: w.initializersOf("prefill.onnx"),
 *   prepacked: w.prepacked,
 *   config: { "session.model_external_initializers_file_folder_path": dir },
 * });
 * ```
 */
export class SharedWeights {
  readonly prepacked = new PrepackedWeights();
  #values = new Map<string, OrtValue>();
  #graphs = new Map<string, { model: Uint8Array; names: string[]; fused: number }>();
  #files = new Map<string, FileBytes>();
  /** Bytes of initializer data shared. */
  bytes = 0;
  /** Holders (the loader, then each session that uses the weights). */
  #refs = 1;

  private constructor(readonly dir: string) {}

  /**
   * Prepares `graphs` (files of `dir`): rewrites them and maps their external data once
   * (`mmap: false` reads it into memory instead).
   */
  static async load(
    dir: string,
    graphs: readonly string[],
    options: { mmap?: boolean } = {},
  ): Promise<SharedWeights> {
    const w = new SharedWeights(dir);
    try {
      for (const g of graphs) {
        const model = onnx.ModelProto.decode(await Deno.readFile(join(dir, g)));
        const fused = fuseWeightTransposes(model);
        const list = externalInitializers(model, join(dir, g));
        w.#graphs.set(g, {
          model: onnx.ModelProto.encode(model).finish(),
          names: list.map((t) => t.name),
          fused,
        });
        for (const t of list) {
          if (w.#values.has(t.name)) continue;
          w.#values.set(t.name, await w.#valueOf(t, g, options.mmap ?? true));
          w.bytes += t.length;
        }
      }
      return w;
    } catch (e) {
      w.close();
      throw e;
    }
  }

  async #file(name: string, mmap: boolean): Promise<FileBytes> {
    let f = this.#files.get(name);
    if (!f) {
      const path = join(this.dir, name);
      const map = mmap ? mapFile(path) : undefined;
      f = map ? { map } : { bytes: await Deno.readFile(path) };
      this.#files.set(name, f);
    }
    return f;
  }

  async #valueOf(t: ExternalInitializer, graph: string, mmap: boolean): Promise<OrtValue> {
    const f = await this.#file(t.file, mmap);
    const size = "map" in f ? f.map.byteLength : f.bytes.byteLength;
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (t.length !== n * TENSOR_TYPES[t.type].bytes || t.offset + t.length > size) {
      throw new KitError(
        `${join(this.dir, graph)}: initializer '${t.name}' (${t.type}[${t.dims}]) has ` +
          `${t.length} bytes at ${t.offset} of ${t.file} (${size} bytes)`,
      );
    }
    if ("map" in f) return OrtValue.fromPointer(f.map.at(t.offset), t.type, t.dims, [f.map]);
    const info = TENSOR_TYPES[t.type];
    const start = f.bytes.byteOffset + t.offset;
    const data = start % info.bytes === 0
      ? new info.array(f.bytes.buffer as ArrayBuffer, start, n)
      : new info.array(f.bytes.slice(t.offset, t.offset + t.length).buffer as ArrayBuffer, 0, n);
    return OrtValue.fromHost(t.type, data, t.dims);
  }

  /** Graph `g` rewritten to read the shared weights (model bytes for `Session.create`). */
  model(g: string): Uint8Array {
    return this.#graph(g).model;
  }

  /** How many MatMuls of graph `g` the rewrite made read their weight directly. */
  fusedTransposes(g: string): number {
    return this.#graph(g).fused;
  }

  /** The shared values of graph `g`'s external initializers (for `AddInitializer`). */
  initializersOf(g: string): Map<string, OrtValue> {
    return new Map(this.#graph(g).names.map((n) => [n, this.#values.get(n)!]));
  }

  #graph(g: string) {
    const x = this.#graphs.get(g);
    if (!x) {
      throw new KitError(`no weights were loaded for '${g}' (loaded: ${[...this.#graphs.keys()]})`);
    }
    return x;
  }

  /** Whether the weights are a file mapping (`trim()` then frees their resident pages). */
  get mapped(): boolean {
    return [...this.#files.values()].some((f) => "map" in f);
  }

  /** Drops the resident pages of the mapped weights (safe at any time: they refill from the
   * file when read). */
  trim(): void {
    for (const f of this.#files.values()) if ("map" in f) f.map.release();
  }

  /** Another holder (a session): the weights stay until every holder has called `unref()`. */
  retain(): void {
    if (this.#refs <= 0) throw new KitError(`the shared weights of ${this.dir} were released`);
    this.#refs++;
  }

  /** Drops one hold; the last one closes the weights. */
  unref(): void {
    if (--this.#refs === 0) this.close();
  }

  /** Releases the values, the container and the mapping now (after the sessions that use
   * them; `unref()` does it when the last holder lets go). */
  close(): void {
    this.#refs = 0;
    for (const v of this.#values.values()) v.close();
    this.#values.clear();
    this.prepacked.close();
    for (const f of this.#files.values()) if ("map" in f) f.map.close();
    this.#files.clear();
  }
}
