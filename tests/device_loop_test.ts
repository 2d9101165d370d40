/**
 * The device generation loop (lib/device_loop.ts): graphs that choose the next token
 * (lib/onnx/next_token.ts), two buffer sets swapped between decode steps, prefill in pieces. On
 * the test EP (the CPU in CI: host buffers; QUAMBA_TEST_EP=cuda or webgpu: device buffers and
 * graph capture), its tokens equal `Model.generate`'s.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { DeviceLoop } from "../lib/device_loop.ts";
import { archOfConfig } from "../lib/arch/registry.ts";
import { graphOptions, loadModel } from "../lib/model.ts";
import { addNextToken, NEXT_IDS } from "../lib/onnx/next_token.ts";
import { writeModelFolder } from "../lib/onnx/save.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { createModelSessions } from "../lib/runtime.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";
import { TEST_EP } from "./helpers/ep.ts";

const ckpt = await openCheckpoint(EMBEDDED_MODEL);
const cfg = ckpt.config;
const opt = graphOptions("fp32", TEST_EP);
const dir = await Deno.makeTempDir({ prefix: "quamba-loop-" });
const arch = archOfConfig(cfg);
const prefillG = arch.buildPrefill(cfg, ckpt.store, opt);
const decodeG = arch.buildDecode(cfg, ckpt.store, opt);
addNextToken(prefillG);
addNextToken(decodeG);
await writeModelFolder(join(dir, "g"), { "prefill.onnx": prefillG, "decode.onnx": decodeG });
const shape = arch.stateLayout(cfg);

Deno.test("next_ids: the graphs' argmax is the first maximum of the last position's logits", async () => {
  const { prefill, decode } = await createModelSessions(join(dir, "g"), TEST_EP);
  try {
    assert.ok(prefill.outputNames.includes(NEXT_IDS) && decode.outputNames.includes(NEXT_IDS));
    const tok = await loadTokenizer(EMBEDDED_MODEL);
    const model = await loadModel(EMBEDDED_MODEL, { ep: TEST_EP });
    const ids = tok.encode("The Time Traveller (for so it will be convenient to speak of him)");
    const logits = await model.logits(ids);
    await model.close();
    const v = cfg.vocab_size, last = logits.subarray((ids.length - 1) * v, ids.length * v);
    let best = 0;
    for (let i = 1; i < v; i++) if (last[i] > last[best]) best = i;
    const loop = await DeviceLoop.open(prefill, decode, TEST_EP, shape);
    const [[first]] = await loop.generate([ids], { maxNewTokens: 1 });
    loop.close();
    assert.equal(first, best);
  } finally {
    await prefill.release();
    await decode.release();
  }
});

Deno.test("DeviceLoop: greedy tokens equal Model.generate's, prompts longer than one prefill run, batches", async () => {
  const { prefill, decode } = await createModelSessions(join(dir, "g"), TEST_EP);
  const model = await loadModel(EMBEDDED_MODEL, { ep: TEST_EP });
  const tok = await loadTokenizer(EMBEDDED_MODEL);
  try {
    const prompts = ["The Time Traveller", "It was a dark and stormy night, and"].map((p) =>
      tok.encode(p)
    );
    for (const maxPrefill of [Infinity, 3]) {
      const loop = await DeviceLoop.open(prefill, decode, TEST_EP, shape, { maxPrefill });
      for (const p of prompts) {
        const want = await model.generate(p, { maxNewTokens: 40 });
        const seen: number[] = [];
        const [got] = await loop.generate([p], {
          maxNewTokens: 40,
          onTokens: (ids) => seen.push(...ids),
        });
        assert.deepEqual(got, want, `maxPrefill ${maxPrefill}`);
        assert.deepEqual(seen, want);
      }
      assert.equal(loop.steps, 2 * 39);
      loop.close();
    }
    // two sequences decoded together give each one's own continuation
    const same = prompts.map((p) => p.slice(0, 4));
    const loop2 = await DeviceLoop.open(prefill, decode, TEST_EP, shape, { batch: 2 });
    const both = await loop2.generate(same, { maxNewTokens: 12 });
    loop2.close();
    for (const [i, p] of same.entries()) {
      assert.deepEqual(both[i], await model.generate(p, { maxNewTokens: 12 }));
    }
    // stopping at the end of text
    const eos = (await model.generate(prompts[0], { maxNewTokens: 5 }))[2];
    const loop3 = await DeviceLoop.open(prefill, decode, TEST_EP, shape);
    const [stopped] = await loop3.generate([prompts[0]], { maxNewTokens: 20, eosId: eos });
    loop3.close();
    assert.equal(stopped.at(-1), eos);
    assert.ok(stopped.length <= 3);
  } finally {
    await model.close();
    await prefill.release();
    await decode.release();
  }
});

Deno.test("copyThroughSession: an Identity session copies a tensor to host memory (getData's fallback)", async () => {
  const { copyThroughSession } = await import("../lib/ort/copy_session.ts");
  const { OrtValue } = await import("../lib/ort/mod.ts");
  for (
    const [type, data] of [
      ["int64", BigInt64Array.of(7n, -3n, 4096n)],
      ["float32", Float32Array.of(1.5, -2, 3e-8)],
    ] as const
  ) {
    const v = OrtValue.fromHost(type, data, [1, 3]);
    try {
      assert.deepEqual(await copyThroughSession(v, type, [1, 3], "cpu", 0), data);
    } finally {
      v.close();
    }
  }
});

Deno.test("DeviceLoop: a hybrid's growing attention caches are refused, naming the tensor", async () => {
  const { parseModelConfig } = await import("../lib/arch/registry.ts");
  const raw = JSON.parse(await Deno.readTextFile("tests/fixtures/jamba_tiny/config.json"));
  const jcfg = parseModelConfig(raw, "config.json");
  const layout = archOfConfig(jcfg).stateLayout(jcfg);
  const { prefill, decode } = await createModelSessions(join(dir, "g"), "cpu");
  try {
    await assert.rejects(
      () => DeviceLoop.open(prefill, decode, "cpu", layout),
      /needs states of fixed size; 'key\.1' grows with every token/,
    );
  } finally {
    await prefill.release();
    await decode.release();
  }
});
