/**
 * Seeded checkpoints that Python (scripts/seeded_weights.py) makes bit for bit alike: the
 * reference outputs of transformers are committed, the weights are not. Values come from
 * mulberry32 in the order of the sorted tensor names, through operations IEEE 754 rounds the same
 * in both languages.
 */
import { join } from "node:path";
import { bytesOf } from "../../lib/onnx/builder.ts";
import { mulberry32 } from "../../lib/random.ts";
import { writeSafetensors } from "../../lib/safetensors.ts";

/** One weight from r = 2u - 1: the rule of scripts/seeded_weights.py `value`. */
export function seededValue(name: string, shape: number[], r: number, u: number): number {
  if (name.endsWith("A_log")) return 0.5 + 1.5 * u;
  if (name.endsWith("dt_proj.bias") || name.endsWith("dt_bias")) return -3 + r;
  if (name.endsWith(".D")) return 1 + 0.5 * r;
  if (name.endsWith("norm.weight") || name.endsWith("norm_f.weight")) return 1 + 0.2 * r;
  if (name.includes("conv1d")) return name.endsWith("weight") ? 0.5 * r : 0.1 * r;
  if (name.endsWith(".bias")) return 0.1 * r;
  if (name.includes("embed")) return r;
  return 1.5 * r / Math.sqrt(shape[shape.length - 1]);
}

/**
 * The seeded tensors of `specs` (name and shape), as float32.
 *
 * @example
 * ```ts
 * const t = seededTensors([["lm_head.weight", [64, 16]]], 7);
 * ```
 */
export function seededTensors(
  specs: [string, number[]][],
  seed: number,
): Map<string, Float32Array> {
  const next = mulberry32(seed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of [...specs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < x.length; i++) {
      const u = next();
      x[i] = seededValue(name, shape, 2 * u - 1, u);
    }
    out.set(name, x);
  }
  return out;
}

/** Token ids floor(u · vocab): scripts/seeded_weights.py `seeded_ids`. */
export function seededIds(seed: number, n: number, vocab: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(next() * vocab));
}

/** float32 → bfloat16, rounding to nearest even (as torch does). */
export function f32ToBf16(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  return Uint16Array.from(u, (b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
}

/**
 * Writes a seeded checkpoint: `config.json` and the tensors as F32 or BF16, in one file or in
 * shards of at most `shardBytes` with an index. Returns the folder.
 */
export async function writeSeededCheckpoint(
  dir: string,
  config: Record<string, unknown>,
  specs: [string, number[]][],
  seed: number,
  options: { dtype?: "F32" | "BF16"; shardBytes?: number } = {},
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config, null, 1));
  const dtype = options.dtype ?? "F32";
  const tensors = [...seededTensors(specs, seed)].map(([name, x]) => {
    const shape = specs.find((s) => s[0] === name)![1];
    const data = dtype === "BF16" ? bytesOf(f32ToBf16(x)) : bytesOf(x);
    return { name, tensor: { dtype, shape, data } };
  });
  if (!options.shardBytes) {
    await writeSafetensors(
      join(dir, "model.safetensors"),
      Object.fromEntries(tensors.map((t) => [t.name, t.tensor])),
    );
    return dir;
  }
  const shards: (typeof tensors)[] = [[]];
  let size = 0;
  for (const t of tensors) {
    if (size > 0 && size + t.tensor.data.byteLength > options.shardBytes) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(t);
    size += t.tensor.data.byteLength;
  }
  const weightMap: Record<string, string> = {};
  for (const [k, shard] of shards.entries()) {
    const file = `model-${String(k + 1).padStart(5, "0")}-of-${
      String(shards.length).padStart(5, "0")
    }.safetensors`;
    await writeSafetensors(
      join(dir, file),
      Object.fromEntries(shard.map((t) => [t.name, t.tensor])),
    );
    for (const t of shard) weightMap[t.name] = file;
  }
  await Deno.writeTextFile(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  return dir;
}
