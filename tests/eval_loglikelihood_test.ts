/**
 * `loglikelihood` on the embedded model: against transformers (float64) on requests covering
 * lm-eval's rules (fixtures made by scripts/make_eval_references.py on the GPU machine), against
 * an independent sum over `model.logits` of the whole sequence, and batched against unbatched.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loglikelihood } from "../mod.ts";
import { encodeRequest, type LoglikelihoodResult } from "../lib/eval/requests.ts";
import { scoreTokens } from "../lib/eval/score.ts";
import { PY_WHITESPACE } from "../lib/eval/pystr.ts";
import { loadModel } from "../lib/model.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { neoxTokenizerDir } from "./helpers/shared.ts";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
interface RefRow {
  context: string;
  continuation: string;
  maxLength: number;
  contextTokens: number[];
  continuationTokens: number[];
  logprob?: number;
  isGreedy?: boolean;
  error?: string;
  neox: { contextTokens: number[]; continuationTokens: number[] };
}
const ref = JSON.parse(await Deno.readTextFile(join(FIX, "eval_reference.json"))) as {
  prefix_token_id: number;
  python_whitespace: number[];
  requests: RefRow[];
};
const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });
const model = await loadModel(EMBEDDED_MODEL, { cacheDir, ep: TEST_EP });
const ok = ref.requests.filter((r) => !r.error);

Deno.test("reference fixture covers the rules: truncation, empty context, greedy, errors", () => {
  assert.ok(ok.some((r) => r.context === ""));
  assert.ok(ok.some((r) => r.context !== r.context.trimEnd()));
  assert.ok(ok.some((r) => r.contextTokens.length + r.continuationTokens.length > r.maxLength + 1));
  assert.ok(ok.some((r) => r.isGreedy) && ok.some((r) => !r.isGreedy));
  assert.ok(ok.some((r) => r.continuationTokens.length > 3));
  assert.equal(ref.requests.filter((r) => r.error).length, 4);
});

Deno.test("Python's whitespace (str.rstrip) is the set the kit strips", () => {
  assert.deepEqual([...PY_WHITESPACE], ref.python_whitespace);
});

Deno.test("token split of each request equals lm-eval's rules in Python (embedded + GPT-NeoX)", async () => {
  const neox = await loadTokenizer(neoxTokenizerDir());
  for (const r of ref.requests) {
    const t = encodeRequest(model.tokenizer, r, ref.prefix_token_id);
    assert.deepEqual(t, { context: r.contextTokens, continuation: r.continuationTokens });
    const n = encodeRequest(neox, r, neox.eosId!);
    assert.deepEqual(n, { context: r.neox.contextTokens, continuation: r.neox.continuationTokens });
  }
});

Deno.test("loglikelihood within 1e-4 of transformers float64, same isGreedy", async () => {
  for (const maxLength of new Set(ok.map((r) => r.maxLength))) {
    const rows = ok.filter((r) => r.maxLength === maxLength);
    const got = await loglikelihood(model, rows, { maxLength });
    rows.forEach((r, i) => {
      const what = `${JSON.stringify(r.context.slice(-20))} + ${JSON.stringify(r.continuation)}`;
      assert.ok(
        Math.abs(got[i].logprob - r.logprob!) <= 1e-4,
        `${what} (max ${maxLength}): ${got[i].logprob} vs ${r.logprob}`,
      );
      assert.equal(got[i].isGreedy, r.isGreedy, what);
    });
  }
});

Deno.test("requests lm-eval rejects are errors naming the request", async () => {
  for (const r of ref.requests.filter((r) => r.error)) {
    await assert.rejects(
      () => loglikelihood(model, [r], { maxLength: r.maxLength }),
      (e: Error) => {
        assert.match(e.message, /^request 0 \(context .*\): the (context|continuation) has/);
        const kind = r.error!.startsWith("empty context")
          ? /context has no tokens/
          : r.error!.startsWith("empty continuation")
          ? /continuation has no tokens/
          : /more than the maximum length/;
        assert.match(e.message, kind);
        return true;
      },
    );
  }
});

/** log softmax of one row, in float64, written out again (not the kit's helper). */
function logProbs(logits: Float32Array, row: number, v: number): number[] {
  const x = Array.from(logits.subarray(row * v, (row + 1) * v));
  const m = Math.max(...x);
  const lse = m + Math.log(x.reduce((a, b) => a + Math.exp(b - m), 0));
  return x.map((a) => a - lse);
}

const TEXTS = [
  { context: "It was the best of times,", continuation: " it was the worst of times" },
  { context: "It was the best of times,", continuation: " and" },
  { context: "It was the best of times, ", continuation: "it was" },
  { context: "", continuation: "Call me Ishmael." },
  { context: "The Time Traveller", continuation: "'s, and" },
  { context: "The Time Traveller", continuation: " smiled" },
  { context: "Whose woods these are I think I know.", continuation: " His house" },
];

Deno.test("loglikelihood equals an independent sum over model.logits of the whole sequence", async () => {
  const got = await loglikelihood(model, TEXTS);
  const v = model.config.vocab_size;
  for (const [i, r] of TEXTS.entries()) {
    const t = encodeRequest(model.tokenizer, r, model.tokenizer.eosId!);
    const whole = [...t.context, ...t.continuation];
    const logits = await model.logits(whole);
    let lp = 0, greedy = true;
    t.continuation.forEach((tok, j) => {
      const row = logProbs(logits, t.context.length - 1 + j, v);
      lp += row[tok];
      if (row.indexOf(Math.max(...row)) !== tok) greedy = false;
    });
    assert.ok(Math.abs(got[i].logprob - lp) < 2e-5, `${i}: ${got[i].logprob} vs ${lp}`);
    assert.equal(got[i].isGreedy, greedy, `request ${i}`);
  }
  assert.ok(got.some((r) => r.isGreedy), "no greedy request: the isGreedy check proves nothing");
});

Deno.test("batched scoring (shared contexts, time cuts) equals one request at a time", async () => {
  const reqs = TEXTS.map((r) => encodeRequest(model.tokenizer, r, model.tokenizer.eosId!));
  const one: LoglikelihoodResult[] = [];
  for (const r of reqs) one.push((await scoreTokens(model, [r], { batchSize: 1 })).results[0]);
  const v = model.config.vocab_size;
  for (const opt of [{ batchSize: 16 }, { batchSize: 3, maxLogits: 2 * v }]) {
    const { results, stats } = await scoreTokens(model, reqs, opt);
    results.forEach((r, i) => {
      assert.ok(Math.abs(r.logprob - one[i].logprob) < 1e-5, `${JSON.stringify(opt)} ${i}`);
      assert.equal(r.isGreedy, one[i].isGreedy);
    });
    assert.ok(stats.tokens > 0 && stats.seconds > 0);
  }
  // Sharing: the three requests on "It was the best of times," feed its prefix once.
  const shared = await scoreTokens(model, reqs.slice(0, 2), { batchSize: 16 });
  const ctxLen = reqs[0].context.length;
  const expected = (ctxLen - 1) + reqs[0].continuation.length + reqs[1].continuation.length;
  assert.equal(shared.stats.tokens, expected);
});

Deno.test("left truncation keeps the last max_length tokens", async () => {
  const r = { context: [5, 6, 7, 8, 9, 10, 11], continuation: [12, 13] };
  const a = (await scoreTokens(model, [r], { maxLength: 4 })).results[0];
  const b = (await scoreTokens(model, [{ context: [9, 10, 11], continuation: [12, 13] }], {
    maxLength: 2048,
  })).results[0];
  assert.ok(Math.abs(a.logprob - b.logprob) < 1e-6);
  const c = (await scoreTokens(model, [r], { maxLength: 5 })).results[0];
  assert.ok(Math.abs(a.logprob - c.logprob) > 1e-6, "truncation length has no effect");
});

Deno.test({
  name: "close the model",
  fn: async () => await model.close(),
  sanitizeResources: false,
});
