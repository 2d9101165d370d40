/**
 * The two perplexities on short texts, against answers computed independently from
 * `model.logits` (each predicted token's context written out from the definitions), the
 * window rules on hand-made lists, the WikiText document split and detokenizer, and the
 * metrics' standard errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { evaluateTask } from "../lib/eval/runner.ts";
import {
  quambaWikitext2,
  wikitext,
  wikitextDetokenize,
  wikitextDocuments,
  wikitextRows,
} from "../lib/eval/tasks/wikitext.ts";
import { rollingWindows, tokenWindows } from "../lib/eval/windows.ts";
import { bootstrapStderr, meanStderr, perplexity } from "../lib/eval/metrics.ts";
import { pyWordCount } from "../lib/eval/pystr.ts";
import { loadModel } from "../lib/model.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { rng } from "./helpers/tiny.ts";

const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });
const model = await loadModel(EMBEDDED_MODEL, { cacheDir, ep: TEST_EP });
const v = model.config.vocab_size;

/** log p(target) from row `row` of logits, float64, written out here. */
function logp(logits: Float32Array, row: number, target: number): number {
  const x = logits.subarray(row * v, (row + 1) * v);
  let m = -Infinity;
  for (const a of x) m = Math.max(m, a);
  let s = 0;
  for (const a of x) s += Math.exp(a - m);
  return x[target] - m - Math.log(s);
}

Deno.test("rolling windows: lm-eval's get_rolling_token_windows + make_disjoint_window", () => {
  assert.deepEqual(rollingWindows([1, 2, 3, 4, 5], 0, 2), [
    { context: [0], continuation: [1, 2] },
    { context: [2], continuation: [3, 4] },
    { context: [3, 4], continuation: [5] },
  ]);
  assert.deepEqual(rollingWindows([1, 2], 0, 4), [{ context: [0], continuation: [1, 2] }]);
  assert.deepEqual(rollingWindows([], 0, 4), []);
  // Every token predicted exactly once, in order.
  const toks = Array.from({ length: 23 }, (_, i) => i + 1);
  for (const L of [1, 3, 7, 23, 30]) {
    assert.deepEqual(rollingWindows(toks, 0, L).flatMap((w) => w.continuation), toks);
  }
});

Deno.test("Quamba windows: non-overlapping, remainder dropped", () => {
  assert.deepEqual(tokenWindows([1, 2, 3, 4, 5, 6, 7], 3), [
    { context: [1], continuation: [2, 3] },
    { context: [4], continuation: [5, 6] },
  ]);
  assert.deepEqual(tokenWindows([1, 2], 3), []);
});

const RAW = [
  " ",
  " = Alpha = ",
  " ",
  " The U.S. @-@ based team , led by John ( the captain ) , won 3 @,@ 000 games . ",
  " ",
  " = = History = = ",
  " ",
  " It was the team 's first season ; it cost $ 1 @.@ 5 million . ",
  " ",
  " = Beta = ",
  " ",
  ' Beta is " quoted " text : with 20 ° and N values . ',
  " ",
].join("\n") + "\n";

Deno.test("WikiText documents split at top-level headings; detokenizer rule by rule", () => {
  const docs = wikitextDocuments(RAW);
  assert.equal(docs.length, 2);
  assert.ok(docs[0].startsWith(" = Alpha = \n"));
  assert.ok(docs[0].includes(" = = History = = "), "a second-level heading starts no document");
  assert.ok(docs[1].startsWith(" = Beta = \n") && docs[1].endsWith(" \n"));
  assert.equal(
    wikitextDetokenize(docs[0]),
    // the document's leading space stays (no newline before it); "= = X = =" → "== X =="
    " = Alpha =\n\nThe U.S.-based team, led by John (the captain), won 3,000 games.\n\n" +
      "== History ==\n\nIt was the team's first season; it cost $ 1.5 million.\n",
  );
  assert.equal(
    wikitextDetokenize(docs[1]),
    ' = Beta =\n\nBeta is "quoted" text: with 20°and 1 values.\n\n', // " ° " → "°", as lm-eval
  );
});

Deno.test("WikiText rows as Hugging Face holds them", () => {
  assert.deepEqual(wikitextRows(" \n = A = \n \n x y \n"), ["", " = A = \n", "", " x y \n"]);
});

async function wikiDir(raw: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "quamba-wiki-" });
  await Deno.mkdir(join(dir, "wikitext-2"));
  await Deno.writeTextFile(join(dir, "wikitext-2", "wiki.test.raw"), raw);
  return dir;
}

Deno.test("wikitext (lm-eval) word/byte perplexity and bits per byte, independently", async () => {
  const L = 8;
  const r = await evaluateTask(model, wikitext, {
    dataDir: await wikiDir(RAW),
    maxLength: L,
    progress: false,
  });
  let ll = 0, words = 0, bytes = 0, windows = 0;
  for (const page of wikitextDocuments(RAW)) {
    const ids = model.tokenizer.encode(wikitextDetokenize(page));
    assert.ok(ids.length > 2 * L, "the text must need several windows");
    // Token i: the first L tokens follow the prefix token; later ones are in blocks of L,
    // the block ending at `end` read from a fresh state starting at ids[end - L - 1].
    for (let i = 0; i < ids.length; i++) {
      const end = i < L ? 0 : Math.min(ids.length, (Math.floor(i / L) + 1) * L);
      const input = i < L ? [0, ...ids.slice(0, i)] : ids.slice(end - L - 1, i);
      assert.ok(input.length <= L);
      const logits = await model.logits(input);
      ll += logp(logits, input.length - 1, ids[i]);
    }
    windows += Math.ceil(ids.length / L);
    words += page.split(/\s+/).length;
    bytes += new TextEncoder().encode(page).length;
  }
  assert.equal(r.requests, windows);
  const m = r.metrics;
  assert.ok(Math.abs(Math.log(m.word_perplexity.value) + ll / words) < 1e-6);
  assert.ok(Math.abs(Math.log(m.byte_perplexity.value) + ll / bytes) < 1e-6);
  assert.ok(Math.abs(m.bits_per_byte.value + ll / bytes / Math.LN2) < 1e-6);
  assert.equal(m.word_perplexity.stderr, null);
  assert.equal(pyWordCount(" a b "), " a b ".split(/\s+/).length);
});

Deno.test("quamba_wikitext2 token perplexity, independently from model.logits per window", async () => {
  const L = 16;
  const r = await evaluateTask(model, quambaWikitext2, {
    dataDir: await wikiDir(RAW),
    maxLength: L,
    progress: false,
  });
  const rows = RAW.split("\n").slice(0, -1).map((l) => l.trim() === "" ? "" : l + "\n");
  const ids = model.tokenizer.encode(rows.join("\n\n"));
  const n = Math.floor(ids.length / L);
  assert.ok(n >= 3 && ids.length % L !== 0, "want several windows and a dropped remainder");
  let nll = 0;
  for (let w = 0; w < n; w++) {
    const win = ids.slice(w * L, (w + 1) * L);
    const logits = await model.logits(win);
    for (let t = 0; t + 1 < L; t++) nll -= logp(logits, t, win[t + 1]);
  }
  assert.equal(r.nEffective, n);
  const expected = Math.exp(nll / (n * (L - 1)));
  assert.ok(
    Math.abs(r.metrics.token_perplexity.value / expected - 1) < 1e-6,
    `${r.metrics.token_perplexity.value} vs ${expected}`,
  );
});

Deno.test("stderr: mean_stderr by hand; bootstrap of perplexity near the delta method", () => {
  assert.ok(Math.abs(meanStderr([1, 0, 1, 1]) - 0.25) < 1e-12);
  const r = rng(7);
  const lls = Array.from({ length: 400 }, () => -2 + r());
  const delta = perplexity(lls) * meanStderr(lls);
  const boot = bootstrapStderr(perplexity, lls, 2000);
  assert.ok(Math.abs(boot / delta - 1) < 0.1, `bootstrap ${boot} vs delta ${delta}`);
  assert.equal(bootstrapStderr(perplexity, lls, 2000), boot, "seeded: repeatable");
});

Deno.test({
  name: "close the model",
  fn: async () => await model.close(),
  sanitizeResources: false,
});
