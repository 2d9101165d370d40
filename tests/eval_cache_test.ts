/**
 * Resuming from the per-example cache: a second run computes only what is missing, a failed run
 * caches nothing for the examples it did not finish, and a changed option is recomputed.
 * Also the command line: results in lm-eval's layout and as Arrow, and its errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readArrowFile } from "../lib/arrow.ts";
import { EvalCache, modelKey } from "../lib/eval/cache.ts";
import { evaluateTask } from "../lib/eval/runner.ts";
import { getTask } from "../lib/eval/tasks/index.ts";
import { loadModel, type MambaState, type Model } from "../lib/model.ts";
import { DATA_DIR, EMBEDDED_MODEL } from "../lib/paths.ts";
import { readText } from "../lib/eval/data.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { runTask } from "./helpers/cli.ts";

const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });
const model = await loadModel(EMBEDDED_MODEL, { cacheDir, ep: TEST_EP });
const dataDir = join(DATA_DIR, "tasks");
const piqa = getTask("piqa");

/** The model, counting prefill calls, and failing on call number `failAt` (1-based) if set. */
function counting(failAt = Infinity): Model & { calls: number } {
  const m = Object.create(model) as Model & { calls: number };
  m.calls = 0;
  m.prefill = (ids: number[][], state?: MambaState) => {
    if (++m.calls >= failAt) throw new Error("injected failure");
    return model.prefill(ids, state);
  };
  return m;
}

async function cachedFiles(cache: EvalCache, task: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(join(cache.dir, task))) out.push(e.name);
  } catch { /* none yet */ }
  return out.sort();
}

Deno.test("an interrupted run resumes: only missing examples are computed, same numbers", async () => {
  const cache = new EvalCache("m", await Deno.makeTempDir());
  const opts = { dataDir, limit: 6, batchSize: 2, cache, progress: false, bootstrapIters: 0 };
  const first = await evaluateTask(counting(), piqa, opts);
  assert.deepEqual(await cachedFiles(cache, "piqa"), [0, 1, 2, 3, 4, 5].map((i) => `${i}.json`));
  await Deno.remove(join(cache.dir, "piqa", "2.json"));
  await Deno.remove(join(cache.dir, "piqa", "4.json"));
  const m = counting();
  const second = await evaluateTask(m, piqa, opts);
  assert.equal(second.fromCache, 4);
  assert.ok(second.tokens > 0 && second.tokens < first.tokens);
  assert.deepEqual(second.metrics, first.metrics);
  const third = await evaluateTask(counting(), piqa, opts);
  assert.equal(third.fromCache, 6);
  assert.equal(third.tokens, 0);
  // A different max length changes the requests' key: nothing is reused.
  const other = await evaluateTask(counting(), piqa, { ...opts, maxLength: 1024 });
  assert.equal(other.fromCache, 0);
});

Deno.test("a failed run caches nothing for the examples it did not finish", async () => {
  // Examples 0-3 form the first chunk (4 * batchSize requests); count its model calls.
  const probe = counting();
  const base = { dataDir, batchSize: 2, progress: false, bootstrapIters: 0 };
  await evaluateTask(probe, piqa, { ...base, limit: 4 });
  const cache = new EvalCache("m", await Deno.makeTempDir());
  await assert.rejects(
    () => evaluateTask(counting(probe.calls + 2), piqa, { ...base, limit: 8, cache }),
    /injected failure/,
  );
  assert.deepEqual(await cachedFiles(cache, "piqa"), ["0.json", "1.json", "2.json", "3.json"]);
});

Deno.test("model key changes with the method and the weights' files", async () => {
  const a = await modelKey(EMBEDDED_MODEL, "fp32", "cpu");
  assert.equal(a, await modelKey(EMBEDDED_MODEL, "fp32", "cpu"));
  assert.notEqual(a, await modelKey(EMBEDDED_MODEL, "fp16", "cpu"));
});

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

const cli = (args: string[], env: Record<string, string>) => runTask("eval", args, { env });

Deno.test("CLI: table, results.json in lm-eval's layout, Arrow rows, resume, errors", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-eval-cli-" });
  const env = { QUAMBA_KIT_CACHE: join(tmp, "cache") };
  const args = ["--tasks", "winogrande,quamba_wikitext2", "--limit", "3", "--max-length", "64"];
  const r = await cli([...args, "--out", join(tmp, "out")], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\|winogrande +\|1 +\|fp32 +\|3 *\|acc/);
  assert.match(r.stdout, /token_perplexity/);
  const json = JSON.parse(await Deno.readTextFile(join(tmp, "out", "results.json")));
  assert.equal(typeof json.results.winogrande["acc,none"], "number");
  assert.equal(typeof json.results.winogrande["acc_stderr,none"], "number");
  assert.equal(json.results.quamba_wikitext2["token_perplexity_stderr,none"], "N/A");
  assert.deepEqual(json["n-samples"].winogrande, { original: 250, effective: 3 });
  assert.equal(json.versions.winogrande, 1);
  assert.equal(json.config.limit, 3);
  assert.equal(json["n-shot"].winogrande, 0);
  const table = await readArrowFile(join(tmp, "out", "results.arrow"));
  assert.equal(table.numRows, 2);
  const rows = table.toArray().map((x) => x.toJSON());
  assert.equal(rows[0].value, json.results.winogrande["acc,none"]);
  assert.equal(rows[1].stderr, null);
  // Again: everything from the cache.
  const again = await cli(args, env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /all from cache/);
  const noTime = (s: string) => s.split("\n").map((l) => l.replace(/\|[^|]*\|$/, "|")).join("\n");
  assert.equal(noTime(again.stdout), noTime(r.stdout));
  const bad = await cli(["--method", "int4", "--tasks", "piqa"], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: unknown method 'int4'/);
  const unknown = await cli(["--tasks", "piqa,mmlu"], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown task 'mmlu'/);
  const badData = await cli(["--tasks", "piqa", "--data", tmp], env);
  assert.equal(badData.code, 1);
  assert.match(badData.stderr, /piqa\/valid.jsonl: file not found/);
  // a malformed file of the second task fails before the first is computed
  const data = join(tmp, "data");
  for (const t of ["piqa", "winogrande"]) {
    await Deno.mkdir(join(data, t), { recursive: true });
    for (const e of Deno.readDirSync(join(DATA_DIR, "tasks", t))) {
      await Deno.copyFile(join(DATA_DIR, "tasks", t, e.name), join(data, t, e.name));
    }
  }
  const dev = join(data, "winogrande", "dev.jsonl");
  // (the shipped sample is dev.jsonl.gz; a plain dev.jsonl written beside it takes precedence)
  const lines = (await readText(dev)).split("\n");
  lines[6] = "{not json";
  await Deno.writeTextFile(dev, lines.join("\n"));
  const late = await cli(
    ["--tasks", "piqa,winogrande", "--data", data, "--out", join(tmp, "late"), "--no-cache"],
    env,
  );
  assert.equal(late.code, 1);
  assert.match(late.stderr, /winogrande\/dev\.jsonl:7/);
  assert.ok(!/piqa +\|/.test(late.stdout), "piqa was computed before the check");
  assert.ok(!(await exists(join(tmp, "late", "results.json"))));
});

Deno.test({
  name: "close the model",
  fn: async () => await model.close(),
  sanitizeResources: false,
});
