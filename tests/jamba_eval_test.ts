/**
 * Scoring and the command line on Jamba: the batched, prefix-sharing scorer against a plain sum
 * over one prefill's logits (attention caches of different lengths must not be gathered into one
 * batch), and `generate` / `eval` on the tiny Jamba folder.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { scoreTokens } from "../lib/eval/score.ts";
import { gatherState } from "../lib/eval/state.ts";
import { loadModel } from "../lib/model.ts";
import { runTask } from "./helpers/cli.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { rng } from "./helpers/tiny.ts";

const TINY = new URL("./fixtures/jamba_tiny", import.meta.url).pathname;
const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });

Deno.test("jamba scoring: batched requests with shared and unequal prefixes equal one prefill each", async () => {
  const model = await loadModel(TINY, { cacheDir, ep: TEST_EP });
  const v = model.config.vocab_size, r = rng(4);
  const ids = (n: number) => Array.from({ length: n }, () => Math.floor((r() + 1) / 2 * 290));
  const shared = ids(7);
  const requests = [
    { context: shared, continuation: ids(3) },
    { context: shared, continuation: ids(3) },
    { context: ids(4), continuation: ids(3) }, // same tail length, another prefix length
    { context: ids(1), continuation: ids(3) }, // no prefix at all
    { context: ids(9), continuation: ids(1) },
    { context: shared, continuation: ids(5) },
  ];
  const { results } = await scoreTokens(model, requests, { batchSize: 4, maxLogits: 4 * 2 * v });
  for (const [i, q] of requests.entries()) {
    const all = [...q.context, ...q.continuation];
    const logits = await model.logits(all);
    let lp = 0;
    for (let t = q.context.length; t < all.length; t++) {
      const row = logits.subarray((t - 1) * v, t * v);
      const mx = Math.max(...row);
      lp += row[all[t]] - mx - Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
    }
    assert.ok(
      Math.abs(results[i].logprob - lp) < 1e-4,
      `request ${i}: ${results[i].logprob} vs ${lp}`,
    );
  }
  // gathering caches of 7 and 4 tokens into one batch is refused
  const a = await model.prefill([shared]), b = await model.prefill([shared.slice(0, 4)]);
  assert.throws(
    () => gatherState(model, [{ state: a.state, row: 0 }, { state: b.state, row: 0 }]),
    /seen 7, 4 tokens/,
  );
  await model.close();
});

Deno.test("jamba CLI: generate and eval run on a Jamba folder", async () => {
  const ref = JSON.parse(await Deno.readTextFile(join(TINY, "reference.json")));
  const env = { QUAMBA_KIT_CACHE: cacheDir };
  const g = await runTask("generate", [
    "--model",
    TINY,
    "--prompt",
    ref.greedy[0].prompt,
    "--max-new-tokens",
    "32",
  ], { env });
  assert.equal(g.code, 0, g.stderr);
  assert.ok(g.stdout.includes(ref.greedy[0].prompt + ref.greedy[0].continuation), g.stdout);
  const out = await Deno.makeTempDir({ prefix: "quamba-jamba-eval-" });
  const e = await runTask("eval", [
    "--model",
    TINY,
    "--tasks",
    "piqa,arc_easy",
    "--limit",
    "10",
    "--out",
    out,
  ], { env });
  assert.equal(e.code, 0, e.stderr);
  const res = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
  for (const t of ["piqa", "arc_easy"]) {
    const acc = res.results[t]["acc,none"];
    assert.ok(acc >= 0 && acc <= 1, `${t} acc ${acc}`);
  }
});

Deno.test("jamba CLI: quantize takes the authors' 99.9th percentile for Jamba unless told", async () => {
  const env = { QUAMBA_KIT_CACHE: cacheDir };
  for (const [extra, want] of [[[], 99.9], [["--percentile", "99.99"], 99.99]] as const) {
    const out = join(await Deno.makeTempDir({ prefix: "quamba-jamba-q-" }), "q");
    const r = await runTask("quantize", [
      "--model",
      TINY,
      "--method",
      "quamba",
      "--samples",
      "4",
      "--max-len",
      "128",
      "--out",
      out,
      ...extra,
    ], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(await Deno.readTextFile(join(out, "manifest.json"))).percentile, want);
  }
});
