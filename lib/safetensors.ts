/**
 * Reading Hugging Face safetensors checkpoints, one file or sharded with an index, tensor by
 * tensor: only the header stays in memory, so a model larger than RAM can still be converted.
 *
 * Format: 8 bytes little-endian header length n, n bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data.
 */
import { isAbsolute, join, resolve } from "node:path";
import { KitError } from "./errors.ts";
import { bf16ArrayToF32, f16ArrayToF32 } from "./dtypes.ts";
import { isWithin, writeFileAtomic } from "./fsutil.ts";

/** Item sizes of the dtypes the kit reads. */
export const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Where one tensor lives. */
export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute file path. */
  file: string;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

const MAX_HEADER = 100 * 1024 * 1024;

async function readAt(path: string, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  using f = await Deno.open(path, { read: true });
  await f.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < length) {
    const n = await f.read(out.subarray(done));
    if (n === null) {
      throw new KitError(
        `${path}: file ends at byte ${offset + done}, expected ${offset + length}`,
      );
    }
    done += n;
  }
  return out;
}

/**
 * Parses the header of one safetensors file, checking it as the format requires: a JSON object
 * of tensor entries (and an optional `__metadata__` object of strings), known dtypes, shapes of
 * non-negative integers, and `data_offsets` that agree with the shapes and, sorted, cover the
 * data exactly once (no overlap, no gap, nothing past the end).
 */
export async function readHeader(path: string): Promise<TensorInfo[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new KitError(`${path}: file not found`);
  }
  if (!info.isFile) throw new KitError(`${path}: is a folder, not a safetensors file`);
  const size = info.size;
  if (size < 8) throw new KitError(`${path}: truncated safetensors file (${size} bytes)`);
  const lenBytes = await readAt(path, 0, 8);
  const n = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > size) {
    throw new KitError(
      `${path}: corrupt safetensors header (declares ${n} header bytes, file has ${size})`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(await readAt(path, 8, n)));
  } catch (e) {
    throw new KitError(`${path}: corrupt safetensors header: ${(e as Error).message}`);
  }
  if (!isObject(header)) {
    throw new KitError(`${path}: corrupt safetensors header: not a JSON object of tensors`);
  }
  const meta = header.__metadata__;
  if (
    meta !== undefined &&
    (!isObject(meta) || Object.values(meta).some((v) => typeof v !== "string"))
  ) {
    throw new KitError(`${path}: '__metadata__' must be an object of strings`);
  }
  const dataStart = 8 + n;
  const dataSize = size - dataStart;
  const out: TensorInfo[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (!isObject(v)) {
      throw new KitError(`${path}: tensor '${name}' is not an object in the header`);
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof e.dtype === "string" ? e.dtype : "";
    const item = DTYPE_BYTES[dtype];
    if (!item) throw new KitError(`${path}: tensor '${name}' has unknown dtype '${e.dtype}'`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new KitError(`${path}: tensor '${name}' has a malformed shape`);
    }
    const offsets = Array.isArray(e.data_offsets) ? e.data_offsets : [];
    const [begin, end] = offsets;
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (
      offsets.length !== 2 || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) ||
      begin < 0 || begin > end || end > dataSize
    ) {
      throw new KitError(
        `${path}: tensor '${name}' lies outside the file (offsets ${begin}..${end}, ` +
          `data is ${dataSize} bytes): truncated or corrupt`,
      );
    }
    if (end - begin !== numel * item) {
      throw new KitError(
        `${path}: tensor '${name}' has ${end - begin} bytes, but ${dtype}[${shape}] needs ${
          numel * item
        }`,
      );
    }
    out.push({
      name,
      dtype,
      shape: shape as number[],
      file: path,
      offset: dataStart + begin,
      byteLength: end - begin,
    });
  }
  checkLayout(path, out, dataStart, dataSize);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Tensors sorted by offset must tile the data: each starts where the previous one ended. */
function checkLayout(path: string, tensors: TensorInfo[], dataStart: number, dataSize: number) {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  let at = 0;
  let prev = "the header";
  for (const t of sorted) {
    const begin = t.offset - dataStart;
    if (begin < at) {
      throw new KitError(
        `${path}: tensor '${t.name}' (bytes ${begin}..${begin + t.byteLength}) overlaps ${prev}`,
      );
    }
    if (begin > at) {
      throw new KitError(
        `${path}: ${begin - at} bytes between ${prev} and tensor '${t.name}' belong to no tensor`,
      );
    }
    at = begin + t.byteLength;
    prev = `tensor '${t.name}'`;
  }
  if (at !== dataSize) {
    throw new KitError(
      `${path}: ${dataSize - at} bytes after ${prev} belong to no tensor (corrupt or padded file)`,
    );
  }
}

/** Checks that every value of a tensor is finite; names the file, tensor and first bad index. */
export function checkFinite(t: TensorInfo, x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      let bad = 0;
      for (let j = i; j < x.length; j++) if (!Number.isFinite(x[j])) bad++;
      throw new KitError(
        `${t.file}: tensor '${t.name}' holds ${bad} non-finite value${bad > 1 ? "s" : ""} ` +
          `(${x[i]} at flat index ${i} of [${t.shape}])`,
      );
    }
  }
  return x;
}

/**
 * The tensors of a checkpoint folder: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json`.
 *
 * @example
 * ```ts
 * const store = await SafetensorsStore.open("data/models/embedded");
 * const w = await store.read("backbone.norm_f.weight"); // Float32Array
 * ```
 */
export class SafetensorsStore {
  private constructor(readonly dir: string, private readonly tensors: Map<string, TensorInfo>) {}

  /** Opens the checkpoint in `dir`, reading only headers. */
  static async open(dir: string): Promise<SafetensorsStore> {
    const single = join(dir, "model.safetensors");
    const index = join(dir, "model.safetensors.index.json");
    const tensors = new Map<string, TensorInfo>();
    if (await exists(index)) {
      let map: Record<string, string>;
      try {
        map = JSON.parse(await Deno.readTextFile(index)).weight_map;
      } catch (e) {
        throw new KitError(`${index}: not valid JSON: ${(e as Error).message}`);
      }
      if (!isObject(map)) throw new KitError(`${index}: no 'weight_map' object`);
      const files = [...new Set(Object.values(map))];
      for (const f of files) {
        if (
          typeof f !== "string" || !f || isAbsolute(f) || !isWithin(join(dir, f), dir) ||
          resolve(dir, f) === resolve(dir)
        ) {
          throw new KitError(
            `${index}: shard name ${JSON.stringify(f)} must be a file inside ${dir}`,
          );
        }
      }
      for (const f of files) {
        for (const t of await readHeader(join(dir, f))) tensors.set(t.name, t);
      }
      for (const [name, f] of Object.entries(map)) {
        const t = tensors.get(name);
        if (!t) throw new KitError(`${index}: tensor '${name}' is not in ${f}`);
        if (t.file !== join(dir, f)) {
          throw new KitError(`${index}: tensor '${name}' is listed in ${f} but found in ${t.file}`);
        }
      }
    } else if (await exists(single)) {
      // (readHeader says so if model.safetensors is a folder)
      for (const t of await readHeader(single)) tensors.set(t.name, t);
    } else {
      throw new KitError(`${dir}: no model.safetensors or model.safetensors.index.json`);
    }
    return new SafetensorsStore(dir, tensors);
  }

  /** Opens one safetensors file (not a checkpoint folder). */
  static async openFile(path: string): Promise<SafetensorsStore> {
    const tensors = new Map<string, TensorInfo>();
    for (const t of await readHeader(path)) tensors.set(t.name, t);
    return new SafetensorsStore(path, tensors);
  }

  /** Every tensor name, in file order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** Dtype, shape and location of a tensor. */
  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new KitError(`${this.dir}: tensor '${name}' is missing from the checkpoint`);
    return t;
  }

  /** The raw bytes of a tensor, as stored. */
  async readBytes(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    return await readAt(t.file, t.offset, t.byteLength);
  }

  /**
   * A floating-point tensor converted to float32; a NaN or infinity in it (or a float64 value
   * beyond float32's range) is an error naming the file and tensor.
   */
  async read(name: string): Promise<Float32Array> {
    const t = this.info(name);
    const bytes = await this.readBytes(name);
    const buf = bytes.buffer as ArrayBuffer;
    switch (t.dtype) {
      case "F32":
        return checkFinite(t, new Float32Array(buf));
      case "F16":
        return checkFinite(t, f16ArrayToF32(new Uint16Array(buf)));
      case "BF16":
        return checkFinite(t, bf16ArrayToF32(new Uint16Array(buf)));
      case "F64":
        return checkFinite(t, Float32Array.from(new Float64Array(buf)));
      default:
        throw new KitError(
          `${t.file}: tensor '${name}' has dtype ${t.dtype}; a floating-point tensor is needed`,
        );
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A tensor to write: raw little-endian bytes of `dtype`. */
export interface TensorData {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/**
 * Writes a safetensors file (used for fixtures, tests and saved scales). Written to a temporary
 * file and renamed, so a reader never sees half a file.
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorData>,
  metadata?: Record<string, string>,
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(padded - json.length));
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  await writeFileAtomic(path, out);
}
