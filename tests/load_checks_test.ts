/**
 * What loading refuses (issue 11, items 4–6): safetensors whose offsets overlap, leave gaps or a
 * tail; headers that are not objects; a folder named model.safetensors; shard names outside the
 * checkpoint; NaN and infinity in weights; a tokenizer larger than the model's vocabulary; and
 * generation on non-finite logits.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { KitError } from "../lib/errors.ts";
import { scoreTokens } from "../lib/eval/score.ts";
import { loadModel } from "../lib/model.ts";
import { bytesOf } from "../lib/onnx/builder.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { readHeader, SafetensorsStore, writeSafetensors } from "../lib/safetensors.ts";
import { tinyCheckpoint } from "./helpers/tiny.ts";
import { f32ArrayToF16 } from "../lib/dtypes.ts";

/** bfloat16: the upper half of float32 (NaN and infinities stay what they are). */
const bf16 = (x: Float32Array) => Uint16Array.from(new Uint32Array(x.buffer), (u) => u >>> 16);

async function rejects(fn: () => Promise<unknown>, ...patterns: RegExp[]) {
  await assert.rejects(fn, (e: Error) => {
    assert.ok(e instanceof KitError, `expected a KitError, got ${e.name}: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** A safetensors file with a header written by hand and `dataBytes` of data. */
async function rawFile(header: unknown, dataBytes: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "quamba-st-" });
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const path = join(dir, "model.safetensors");
  await Deno.writeFile(path, out);
  return path;
}

const f32 = (begin: number, end: number, n = (end - begin) / 4) => ({
  dtype: "F32",
  shape: [n],
  data_offsets: [begin, end],
});

Deno.test("safetensors: offsets must tile the data (no overlap, gap or tail)", async () => {
  await rejects(
    async () => readHeader(await rawFile({ a: f32(0, 8), b: f32(4, 12) }, 12)),
    /'b' .* overlaps tensor 'a'/,
  );
  await rejects(
    async () => readHeader(await rawFile({ a: f32(0, 8), b: f32(0, 8) }, 8)),
    /overlaps tensor 'a'/,
  );
  await rejects(
    async () => readHeader(await rawFile({ a: f32(0, 4), b: f32(8, 12) }, 12)),
    /4 bytes between tensor 'a' and tensor 'b' belong to no tensor/,
  );
  await rejects(
    async () => readHeader(await rawFile({ a: f32(0, 8) }, 12)),
    /4 bytes after tensor 'a' belong to no tensor/,
  );
  await rejects(
    async () => readHeader(await rawFile({ a: f32(4, 8) }, 8)),
    /4 bytes between the header and tensor 'a'/,
  );
  // a well-formed file in any header order, zero-size tensors included, is fine
  const ok = await readHeader(await rawFile({ b: f32(8, 12), z: f32(8, 8, 0), a: f32(0, 8) }, 12));
  assert.deepEqual(ok.map((t) => t.name).sort(), ["a", "b", "z"]);
});

Deno.test("safetensors: headers of the wrong shape, folders and escaping shard names", async () => {
  await rejects(
    async () => readHeader(await rawFile([f32(0, 4)], 4)),
    /not a JSON object of tensors/,
  );
  await rejects(
    async () => readHeader(await rawFile({ a: [1, 2] }, 0)),
    /tensor 'a' is not an object/,
  );
  await rejects(
    async () => readHeader(await rawFile({ a: { ...f32(0, 4), dtype: 7 } }, 4)),
    /unknown dtype '7'/,
  );
  await rejects(
    async () => readHeader(await rawFile({ __metadata__: { k: 1 }, a: f32(0, 4) }, 4)),
    /'__metadata__' must be an object of strings/,
  );
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "model.safetensors"));
  await rejects(
    () => SafetensorsStore.open(dir),
    /model\.safetensors: is a folder, not a safetensors file/,
  );
  for (const shard of ["../../../../etc/passwd", "/etc/passwd", "..", ""]) {
    const d = await Deno.makeTempDir();
    await Deno.writeTextFile(
      join(d, "model.safetensors.index.json"),
      JSON.stringify({ weight_map: { a: shard } }),
    );
    await rejects(() => SafetensorsStore.open(d), /shard name .* must be a file inside/);
  }
});

Deno.test("weights: NaN and infinity are named with file and tensor when read", async () => {
  for (
    const [dtype, enc] of [["F32", (x: Float32Array) => bytesOf(x)], [
      "F16",
      (x: Float32Array) => bytesOf(f32ArrayToF16(x)),
    ], ["BF16", (x: Float32Array) => bytesOf(bf16(x))]] as const
  ) {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const dir = await Deno.makeTempDir();
      const x = Float32Array.from([1, 2, bad, 4]);
      await writeSafetensors(join(dir, "model.safetensors"), {
        w: { dtype, shape: [2, 2], data: enc(x) },
      });
      const s = await SafetensorsStore.open(dir);
      await rejects(
        () => s.read("w"),
        /model\.safetensors: tensor 'w' holds 1 non-finite value/,
        new RegExp(`\\(${bad} at flat index 2 of \\[2,2\\]\\)`.replace("+", "")),
      );
    }
  }
});

Deno.test("loadModel: a NaN in a weight fails at load, naming file and tensor", async () => {
  const { dir } = await tinyCheckpoint({}, 5);
  const s = await SafetensorsStore.open(dir);
  const tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
  for (const n of s.names()) {
    const x = await s.read(n);
    if (n === "backbone.norm_f.weight") x[1] = NaN;
    tensors[n] = { dtype: "F32", shape: s.info(n).shape, data: bytesOf(x) };
  }
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  await rejects(
    async () => loadModel(dir, { cacheDir: await Deno.makeTempDir() }),
    /model\.safetensors: tensor 'backbone\.norm_f\.weight' holds 1 non-finite value/,
  );
});

Deno.test("generate and scoring: non-finite logits stop with a clear error", async () => {
  // finite weights whose products overflow float32: the logits become infinite
  const { dir } = await tinyCheckpoint({ tie_word_embeddings: false }, 6);
  const s = await SafetensorsStore.open(dir);
  const tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
  for (const n of s.names()) {
    const x = await s.read(n);
    if (n === "lm_head.weight") x.fill(3e38);
    tensors[n] = { dtype: "F32", shape: s.info(n).shape, data: bytesOf(x) };
  }
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  const model = await loadModel(dir, { cacheDir: await Deno.makeTempDir() });
  try {
    await rejects(
      () => model.generate([1, 2, 3], { maxNewTokens: 4 }),
      /logits hold (-?Infinity|NaN) at generated token 0/,
    );
    await rejects(
      () => scoreTokens(model, [{ context: [1, 2], continuation: [3, 4] }]),
      /request 0: the model's log-probability of token \d+ is (NaN|-?Infinity) \(non-finite logits\)/,
    );
    for (const bad of [NaN, -1, 1.5, Infinity, "4" as unknown as number]) {
      await rejects(
        () => model.generate([1, 2], { maxNewTokens: bad }),
        /maxNewTokens must be an integer >= 0/,
      );
    }
  } finally {
    await model.close();
  }
});

Deno.test("loadModel: a tokenizer with more tokens than the model's vocabulary is refused", async () => {
  const { dir } = await tinyCheckpoint({ vocab_size: 64 }, 7);
  await Deno.copyFile(join(EMBEDDED_MODEL, "tokenizer.json"), join(dir, "tokenizer.json"));
  await rejects(
    async () => loadModel(dir, { cacheDir: await Deno.makeTempDir() }),
    /tokenizer\.json: the tokenizer has \d+ tokens, more than the model's vocabulary \(vocab_size 64/,
  );
});
