/**
 * Caches follow the weights' content (issue 11, item 3): a weight changed in place — same size,
 * even with its modification time put back — gives new graphs and a new quantized model; and the
 * calibration's content, not its file name, keys a quantized model.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "../lib/model.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { quantize, type QuantizedModel } from "../lib/quant/quantize.ts";
import { SafetensorsStore } from "../lib/safetensors.ts";
import { bytesOf } from "../lib/onnx/builder.ts";
import { f32ArrayToF16 } from "../lib/dtypes.ts";

const TEXTS = [
  "The Time Traveller (for so it will be convenient to speak of him) was expounding a recondite " +
  "matter to us. His grey eyes shone and twinkled, and his usually pale face was flushed.",
  "The fire burned brightly, and the soft radiance of the incandescent lights in the lilies of " +
  "silver caught the bubbles that flashed and passed in our glasses.",
];

/** Multiplies a tensor's (F32 or F16) values in place, then puts the file's times back. */
async function scaleInPlace(dir: string, name: string, factor: number): Promise<void> {
  const store = await SafetensorsStore.open(dir);
  const t = store.info(name);
  const x = await store.read(name);
  for (let i = 0; i < x.length; i++) x[i] *= factor;
  const before = await Deno.stat(t.file);
  using f = await Deno.open(t.file, { write: true });
  await f.seek(t.offset, Deno.SeekMode.Start);
  const bytes = t.dtype === "F16" ? bytesOf(f32ArrayToF16(x)) : bytesOf(x);
  assert.equal(bytes.byteLength, t.byteLength);
  await f.write(bytes);
  await Deno.utime(t.file, before.atime!, before.mtime!);
  assert.equal((await Deno.stat(t.file)).mtime?.getTime(), before.mtime?.getTime());
}

Deno.test("caches: a weight scaled in place gives new graphs and a new quantized model", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-ckey-" });
  const dir = join(tmp, "model");
  await Deno.mkdir(dir);
  for (const e of Deno.readDirSync(EMBEDDED_MODEL)) {
    await Deno.copyFile(join(EMBEDDED_MODEL, e.name), join(dir, e.name));
  }
  const cacheDir = join(tmp, "cache");
  const opts = { method: "w8a8", calibration: TEXTS, cacheDir, progress: false };
  const ids = [464, 386, 1759, 12];
  const fp1 = await loadModel(dir, { cacheDir });
  const q1 = await quantize(dir, opts) as QuantizedModel;
  const [l1, lq1] = [await fp1.logits(ids), await q1.logits(ids)];
  await fp1.close();
  await q1.close();
  const q1again = await quantize(dir, opts) as QuantizedModel; // unchanged: the cache answers
  assert.equal(q1again.dir, q1.dir);
  await q1again.close();

  // the change time (which the restored modification time leaves changed) has a resolution of
  // one second in Deno's stat: a change within the same second as the copy would go unseen
  await new Promise((r) => setTimeout(r, 1100));
  await scaleInPlace(dir, "backbone.norm_f.weight", 1.5);
  const fp2 = await loadModel(dir, { cacheDir });
  const q2 = await quantize(dir, opts) as QuantizedModel;
  try {
    assert.notEqual(q2.dir, q1.dir);
    const [l2, lq2] = [await fp2.logits(ids), await q2.logits(ids)];
    const diff = (a: Float32Array, b: Float32Array) =>
      a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    assert.ok(diff(l1, l2) > 1e-2, "the float model's graphs still hold the old weights");
    assert.ok(diff(lq1, lq2) > 1e-2, "the quantized model is the old one");
  } finally {
    await fp2.close();
    await q2.close();
  }
  // other calibration text under the same description: another quantized model
  const q3 = await quantize(dir, { ...opts, calibration: [TEXTS[1], TEXTS[0]] }) as QuantizedModel;
  const q4 = await quantize(dir, opts) as QuantizedModel;
  assert.notEqual(q3.dir, q4.dir);
  await q3.close();
  await q4.close();
});
