/**
 * Calibration input (issue 11, items 10 and 11): an array of texts is accepted in code and
 * calibrates like the same documents in a jsonl file; anything else is refused clearly; binary
 * files are refused and a few tokens are warned about, by quantize as by stats.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { calibrationFromTexts, loadCalibration } from "../lib/calibration.ts";
import { KitError } from "../lib/errors.ts";
import { loadModel } from "../lib/model.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { quantize, type QuantizedModel } from "../lib/quant/quantize.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";
import { runTask } from "./helpers/cli.ts";

const TEXTS = [
  "The Time Traveller (for so it will be convenient to speak of him) was expounding a recondite " +
  "matter to us.",
  "His grey eyes shone and twinkled, and his usually pale face was flushed and animated.",
];

Deno.test("quantize(): an array of texts calibrates like the same documents in a jsonl file", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-ctexts-" });
  const jsonl = join(tmp, "docs.jsonl");
  await Deno.writeTextFile(jsonl, TEXTS.map((text) => JSON.stringify({ text })).join("\n"));
  const fp = await loadModel(EMBEDDED_MODEL);
  const common = { method: "quamba", progress: false, cacheDir: join(tmp, "cache") };
  const a = await quantize(fp, { ...common, calibration: TEXTS }) as QuantizedModel;
  const b = await quantize(fp, { ...common, calibration: jsonl }) as QuantizedModel;
  try {
    assert.deepEqual(a.plan.layers, b.plan.layers);
    assert.ok(a.plan.layers[0].scale.u > 0);
  } finally {
    await Promise.all([a.close(), b.close(), fp.close()]);
  }
});

Deno.test("quantize(): calibration other than a path, texts or samples is refused clearly", async () => {
  const fp = await loadModel(EMBEDDED_MODEL);
  try {
    const cases: [unknown, RegExp][] = [
      [null, /calibration: expected a file path, an array of texts, or \{ source, samples/],
      [{ text: "a text" }, /calibration: expected a file path, an array of texts/],
      [[], /calibration: expected a non-empty array of texts, got an empty array/],
      [["fine", 3], /calibration\[1\]: expected a string, got number/],
      [[""], /the texts hold no sample of at least 2 tokens/],
      [42, /calibration: expected a file path, an array of texts/],
    ];
    for (const [calibration, want] of cases) {
      await assert.rejects(
        () => quantize(fp, { method: "quamba", calibration: calibration as string }),
        (e: Error) => e instanceof KitError && want.test(e.message),
        String(calibration),
      );
    }
    for (const percentile of [1e-9, 50, 101, NaN]) {
      await assert.rejects(
        () => quantize(fp, { method: "quamba", calibration: TEXTS, percentile }),
        /percentile must be a number in \[90, 100\]/,
      );
    }
  } finally {
    await fp.close();
  }
});

Deno.test("calibration files: binary is refused, a few tokens are warned about (quantize, stats)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-cfile-" });
  const tok = await loadTokenizer(EMBEDDED_MODEL);
  await Deno.writeFile(join(tmp, "blob.txt"), Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
  await Deno.writeFile(
    join(tmp, "latin1.txt"),
    Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x61]),
  );
  await Deno.writeTextFile(join(tmp, "tiny.txt"), "three small words");
  await assert.rejects(
    () => loadCalibration(join(tmp, "blob.txt"), tok),
    /not a text file \(it holds NUL bytes\)/,
  );
  await assert.rejects(() => loadCalibration(join(tmp, "latin1.txt"), tok), /not UTF-8 text/);
  const tiny = await loadCalibration(join(tmp, "tiny.txt"), tok);
  assert.match(
    tiny.warnings!.join("\n"),
    /gives only \d tokens in 1 sample\(s\): scales from so little text are unreliable/,
  );
  assert.deepEqual(calibrationFromTexts(TEXTS, tok, { samples: 1 }).samples.length, 1);

  const env = { QUAMBA_KIT_CACHE: join(tmp, "cache") };
  const blob = await runTask(
    "quantize",
    ["--method", "w8a8", "--calib", "blob.txt", "--out", "q"],
    { cwd: tmp, env },
  );
  assert.equal(blob.code, 1);
  assert.match(blob.stderr, /blob\.txt: not a text file/);
  for (
    const [task, args] of [["quantize", ["--method", "w8a8", "--out", "q"]], ["stats", [
      "--out",
      "s",
    ]]] as const
  ) {
    const r = await runTask(task, [...args, "--calib", "tiny.txt"], { cwd: tmp, env });
    assert.equal(r.code, 0, `${task}: ${r.stderr}`);
    assert.match(r.stderr, /note: tiny\.txt gives only \d tokens in 1 sample\(s\)/, task);
  }
});
