import assert from "node:assert/strict";
import { join } from "node:path";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { parseConfig } from "../lib/arch/mamba/config.ts";
import { KitError } from "../lib/errors.ts";
import { bytesOf } from "../lib/onnx/builder.ts";
import { readHeader, SafetensorsStore, writeSafetensors } from "../lib/safetensors.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";
import { tinyCheckpoint } from "./helpers/tiny.ts";
import { neoxTokenizerDir } from "./helpers/shared.ts";

/** Asserts that `fn` rejects with a KitError whose message matches every pattern. */
async function rejects(fn: () => Promise<unknown>, ...patterns: RegExp[]) {
  await assert.rejects(fn, (e: Error) => {
    assert.ok(e instanceof KitError, `expected a KitError, got ${e.name}: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

Deno.test("safetensors: F32, F16 and BF16 read back as float32", async () => {
  const dir = await Deno.makeTempDir();
  const f = join(dir, "model.safetensors");
  await writeSafetensors(f, {
    a: { dtype: "F32", shape: [2], data: bytesOf(Float32Array.from([1.5, -2])) },
    b: { dtype: "F16", shape: [2], data: bytesOf(Uint16Array.from([0x3c00, 0xc200])) },
    c: { dtype: "BF16", shape: [1, 2], data: bytesOf(Uint16Array.from([0x4040, 0xbf00])) },
  });
  const s = await SafetensorsStore.open(dir);
  assert.deepEqual(s.names(), ["a", "b", "c"]);
  assert.deepEqual(Array.from(await s.read("a")), [1.5, -2]);
  assert.deepEqual(Array.from(await s.read("b")), [1, -3]);
  assert.deepEqual(Array.from(await s.read("c")), [3, -0.5]);
  assert.deepEqual(s.info("c").shape, [1, 2]);
});

Deno.test("safetensors: a sharded checkpoint is read through its index", async () => {
  const dir = await Deno.makeTempDir();
  const t = (v: number) => ({ dtype: "F32", shape: [1], data: bytesOf(Float32Array.from([v])) });
  await writeSafetensors(join(dir, "model-00001-of-00002.safetensors"), { x: t(1) });
  await writeSafetensors(join(dir, "model-00002-of-00002.safetensors"), { y: t(2) });
  const index = {
    weight_map: { x: "model-00001-of-00002.safetensors", y: "model-00002-of-00002.safetensors" },
  };
  await Deno.writeTextFile(join(dir, "model.safetensors.index.json"), JSON.stringify(index));
  const s = await SafetensorsStore.open(dir);
  assert.deepEqual(Array.from(await s.read("y")), [2]);
  index.weight_map.y = "model-00001-of-00002.safetensors";
  await Deno.writeTextFile(join(dir, "model.safetensors.index.json"), JSON.stringify(index));
  await rejects(() => SafetensorsStore.open(dir), /index\.json/, /'y'/);
});

Deno.test("safetensors: truncated and corrupt files name the file and tensor", async () => {
  const dir = await Deno.makeTempDir();
  const f = join(dir, "model.safetensors");
  await writeSafetensors(f, { w: { dtype: "F32", shape: [4], data: new Uint8Array(16) } });
  const good = await Deno.readFile(f);
  await Deno.writeFile(f, good.subarray(0, good.length - 4));
  await rejects(() => readHeader(f), /model\.safetensors/, /'w'/, /truncated/);
  await Deno.writeFile(f, good.subarray(0, 5));
  await rejects(() => readHeader(f), /model\.safetensors/, /truncated/);
  const bad = good.slice();
  bad[8] = "x".charCodeAt(0); // the opening brace of the JSON header
  await Deno.writeFile(f, bad);
  await rejects(() => readHeader(f), /corrupt safetensors header/);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  await Deno.writeFile(f, huge);
  await rejects(() => readHeader(f), /corrupt safetensors header/);
  await writeSafetensors(f, { w: { dtype: "F32", shape: [5], data: new Uint8Array(16) } });
  await rejects(() => readHeader(f), /'w'/, /needs 20/);
  await writeSafetensors(f, { w: { dtype: "F8_E9", shape: [1], data: new Uint8Array(1) } });
  await rejects(() => readHeader(f), /'w'/, /unknown dtype/);
  await rejects(
    () => readHeader(join(dir, "nope.safetensors")),
    /nope\.safetensors: file not found/,
  );
});

Deno.test("config: every field is validated and named", () => {
  const base = { model_type: "mamba", hidden_size: 64 };
  assert.equal(parseConfig(base, "c").intermediate_size, 128);
  assert.equal(parseConfig(base, "c").time_step_rank, 4);
  assert.equal(parseConfig({ ...base, time_step_rank: 7, expand: 3 }, "c").time_step_rank, 7);
  assert.equal(parseConfig({ ...base, expand: 3 }, "c").intermediate_size, 192);
  assert.throws(
    () => parseConfig({ ...base, model_type: "llama" }, "x/config.json"),
    /x\/config\.json: model_type 'llama' is unknown/,
  );
  assert.throws(
    () => parseConfig({ ...base, model_type: "mamba2" }, "c"),
    /'mamba2' is not supported yet/,
  );
  assert.throws(
    () => parseConfig({ ...base, hidden_size: -3 }, "c"),
    /'hidden_size' must be a positive integer, got -3/,
  );
  assert.throws(() => parseConfig({ ...base, time_step_rank: "big" }, "c"), /'time_step_rank'/);
  assert.throws(
    () => parseConfig({ ...base, use_bias: "yes" }, "c"),
    /'use_bias' must be true or false/,
  );
  assert.throws(() => parseConfig({ ...base, hidden_act: "gelu" }, "c"), /'hidden_act'/);
  assert.throws(() => parseConfig([], "c"), /expected a JSON object/);
});

Deno.test("checkpoint: missing, misshapen, mistyped and unexpected tensors are named", async () => {
  const { dir } = await tinyCheckpoint();
  const ck = await openCheckpoint(dir);
  assert.equal(ck.lmHead, "backbone.embeddings.weight");
  const f = join(dir, "model.safetensors");
  const store = await SafetensorsStore.open(dir);
  const all: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> = {};
  for (const n of store.names()) {
    const i = store.info(n);
    all[n] = { dtype: i.dtype, shape: i.shape, data: await store.readBytes(n) };
  }
  const write = (t: typeof all) => writeSafetensors(f, t);

  const { ["backbone.layers.1.mixer.D"]: _gone, ...missing } = all;
  await write(missing);
  await rejects(() => openCheckpoint(dir), /'backbone\.layers\.1\.mixer\.D' is missing/);

  await write({
    ...all,
    "backbone.layers.0.mixer.A_log": { dtype: "F32", shape: [16, 4], data: new Uint8Array(256) },
  });
  await rejects(
    () => openCheckpoint(dir),
    /model\.safetensors/,
    /'backbone\.layers\.0\.mixer\.A_log' has shape \[16,4\], expected \[32,4\]/,
  );

  await write({
    ...all,
    "backbone.norm_f.weight": { dtype: "I32", shape: [16], data: new Uint8Array(64) },
  });
  await rejects(() => openCheckpoint(dir), /'backbone\.norm_f\.weight' has dtype I32/);

  await write({ ...all, "backbone.layers.7.norm.weight": all["backbone.norm_f.weight"] });
  await rejects(() => openCheckpoint(dir), /unexpected tensors backbone\.layers\.7\.norm\.weight/);

  await write(all);
  await Deno.writeTextFile(join(dir, "config.json"), "{ not json");
  await rejects(() => openCheckpoint(dir), /config\.json: not valid JSON/);
  await Deno.remove(join(dir, "config.json"));
  await rejects(() => openCheckpoint(dir), /config\.json: file not found/);
  await rejects(() => openCheckpoint(join(dir, "nowhere")), /nowhere: not a folder/);
  await Deno.remove(f);
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify({ model_type: "mamba", hidden_size: 16 }),
  );
  await rejects(() => openCheckpoint(dir), /no model\.safetensors/);
});

Deno.test("checkpoint: an untied checkpoint needs lm_head.weight", async () => {
  const { dir } = await tinyCheckpoint({ tie_word_embeddings: false });
  assert.equal((await openCheckpoint(dir)).lmHead, "lm_head.weight");
});

Deno.test("tokenizer: GPT-NeoX-20B loads and round-trips text", async () => {
  const tok = await loadTokenizer(neoxTokenizerDir());
  for (const text of ["Hello, world!", "  spaces  and\n\nnewlines\t", "café 中文 🙂 3.14159"]) {
    assert.equal(tok.decode(tok.encode(text)), text);
  }
  assert.deepEqual(tok.encode("Hello, world!"), [12092, 13, 1533, 2]);
  assert.equal(tok.eosId, 0);
  assert.equal(tok.decode([0]), "<|endoftext|>");
});

Deno.test("tokenizer: a malformed tokenizer.json is named", async () => {
  const dir = await Deno.makeTempDir();
  await rejects(() => loadTokenizer(dir), /tokenizer\.json: file not found/);
  await Deno.writeTextFile(join(dir, "tokenizer.json"), '{"model": 3');
  await rejects(() => loadTokenizer(dir), /tokenizer\.json: not valid JSON/);
  await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify({ version: "1.0" }));
  await rejects(() => loadTokenizer(dir), /tokenizer\.json: malformed tokenizer/);
  await Deno.writeTextFile(
    join(dir, "tokenizer.json"),
    JSON.stringify({ model: { type: "Nonsense", vocab: {} } }),
  );
  await rejects(() => loadTokenizer(dir), /tokenizer\.json: malformed tokenizer/);
});
