/**
 * Command-line input (issue 11, items 8–10, 13–15): numbers are checked strictly and bounded,
 * lists have no repeats, long prompts work (from the command line, a file or stdin), streaming
 * decodes incrementally, no telemetry is written, tasks hold only the permissions they need,
 * and every --help names its own task once per option.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { intOption, listOption, numberOption, textStreamer, threadsOption } from "../lib/cli.ts";
import { KitError } from "../lib/errors.ts";
import { EMBEDDED_MODEL, KIT_ROOT, TASK_PERMISSIONS } from "../lib/paths.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";
import { runTask, taskCommand } from "./helpers/cli.ts";

Deno.test("intOption, numberOption, listOption: strict decimal input, bounds, no repeats", () => {
  assert.equal(intOption(undefined, "n", 7), 7);
  assert.equal(intOption("64", "n", 0), 64);
  for (const bad of ["1e9", "0x10", "", " ", "-1", "1.5", "64k", "NaN", "Infinity"]) {
    assert.throws(() => intOption(bad, "n", 0), KitError, bad);
  }
  assert.throws(() => intOption("0", "limit", 0, { min: 1 }), /--limit must be an integer >= 1/);
  assert.throws(() => intOption("11", "n", 0, { max: 10 }), /in \[0, 10\]/);
  assert.throws(() => threadsOption("100000"), /--threads must be an integer in \[1, \d+\]/);
  assert.equal(threadsOption(undefined), undefined);
  assert.equal(numberOption("99.9", "p", 0, { min: 90, max: 100 }), 99.9);
  for (const bad of ["1e-9", "", "50", "100.5", "abc", "0x5A"]) {
    assert.throws(() => numberOption(bad, "p", 0, { min: 90, max: 100 }), KitError, bad);
  }
  assert.deepEqual(listOption("piqa, arc_easy", "tasks", ["piqa", "arc_easy"]), [
    "piqa",
    "arc_easy",
  ]);
  assert.throws(() => listOption("piqa,piqa", "tasks", ["piqa"]), /--tasks lists 'piqa' twice/);
  assert.throws(() => listOption("mmlu", "tasks", ["piqa"]), /unknown task 'mmlu'/);
  assert.throws(() => listOption(",", "tasks"), /--tasks is empty/);
});

Deno.test("CLI: bad numbers, repeats and empty lists fail at once with the flag named", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-opts-" });
  const env = { QUAMBA_KIT_CACHE: join(tmp, "cache") };
  const cases: [string, string[], RegExp][] = [
    ["generate", ["--max-new-tokens", "1e9"], /--max-new-tokens must be an integer in \[0, \d+\]/],
    ["generate", ["--max-new-tokens", "0x10"], /--max-new-tokens must be an integer/],
    ["generate", ["--max-new-tokens", ""], /--max-new-tokens must be an integer/],
    ["generate", ["--threads", "100000"], /--threads must be an integer in \[1, \d+\]/],
    ["generate", ["--prompt", "a", "--prompt-file", "b"], /--prompt or --prompt-file, not both/],
    [
      "quantize",
      ["--method", "quamba", "--percentile", "1e-9", "--out", "q"],
      /--percentile must be a number in \[90, 100\]/,
    ],
    ["eval", ["--limit", "0"], /--limit must be an integer >= 1/],
    ["eval", ["--tasks", "piqa,piqa"], /--tasks lists 'piqa' twice/],
    ["eval", ["--tasks", ","], /--tasks is empty/],
    ["reproduce", ["--methods", "quamba,quamba", "--out", "r"], /--methods lists 'quamba' twice/],
    ["stats", ["--samples", "0", "--out", "s"], /--samples must be an integer >= 1/],
  ];
  for (const [task, args, want] of cases) {
    const r = await runTask(task, args, { cwd: tmp, env });
    assert.equal(r.code, 1, `${task} ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, want, `${task} ${args.join(" ")}`);
  }
  assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), [], "nothing written");
});

Deno.test("generate: a 60,000-character prompt works from the command line, a file or stdin", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-prompt-" });
  const env = { QUAMBA_KIT_CACHE: join(tmp, "cache"), HOME: tmp };
  const prompt = "word ".repeat(12000).trimEnd();
  await Deno.writeTextFile(join(tmp, "prompt.txt"), prompt);
  const runs = [
    await runTask("generate", ["--prompt", prompt, "--max-new-tokens", "2"], { cwd: tmp, env }),
    await runTask("generate", ["--prompt-file", "prompt.txt", "--max-new-tokens", "2"], {
      cwd: tmp,
      env,
    }),
    await runTask("generate", ["--prompt-file", "-", "--max-new-tokens", "2"], {
      cwd: tmp,
      env,
      stdin: prompt,
    }),
  ];
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr.slice(-500));
    assert.ok(r.stdout.startsWith(prompt), "the prompt is echoed");
    assert.match(r.stderr, /prefill: 1\d{4} tokens/);
  }
  assert.equal(runs[1].stdout, runs[0].stdout);
  assert.equal(runs[2].stdout, runs[0].stdout);
  // onnxruntime's telemetry (whose copy of a long command line overflowed the stack) is off
  assert.ok(
    !(await exists(join(tmp, ".cache", "Microsoft"))),
    "telemetry wrote ~/.cache/Microsoft",
  );
  const bad = await runTask("generate", ["--prompt-file", "missing.txt"], { cwd: tmp, env });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--prompt-file missing\.txt: cannot read it/);
});

async function exists(p: string) {
  return await Deno.stat(p).then(() => true, () => false);
}

Deno.test("textStreamer: pieces join to the whole text, decoding a bounded window per token", async () => {
  const tok = await loadTokenizer(EMBEDDED_MODEL);
  const text = "The Time Traveller (for so it will be convenient to speak of him) — naïve café, " +
    "日本語のテキスト 🙂🙂 and “quotes”.\n\n".repeat(40);
  const ids = tok.encode(text);
  let decoded = 0, longest = 0;
  const stream = textStreamer((x) => {
    decoded += x.length;
    longest = Math.max(longest, x.length);
    return tok.decode(x);
  });
  const pieces = ids.map((id) => stream(id));
  assert.equal(pieces.join(""), tok.decode(ids));
  assert.ok(longest < 16, `a window of ${longest} tokens`);
  assert.ok(decoded < 10 * ids.length, `decoded ${decoded} tokens for ${ids.length}`);
});

Deno.test("tasks: no task may use the network; every task runs with the kit's permissions", () => {
  const cfg = JSON.parse(Deno.readTextFileSync(join(KIT_ROOT, "deno.json")));
  for (const task of Object.keys(cfg.tasks)) {
    const words = taskCommand(task);
    assert.ok(!words.includes("-A") && !words.includes("--allow-all"), `${task}: -A`);
    const net = words.filter((w) => w.startsWith("--allow-net"));
    if (task === "test") assert.deepEqual(net, ["--allow-net=127.0.0.1"]); // Chromium's DevTools
    else assert.deepEqual(net, [], `${task} asks for the network`);
    for (const p of TASK_PERMISSIONS) assert.ok(words.includes(p), `${task} lacks ${p}`);
  }
});

Deno.test("--help: each task names itself, and each option once", async () => {
  const cfg = JSON.parse(Deno.readTextFileSync(join(KIT_ROOT, "deno.json")));
  for (const task of Object.keys(cfg.tasks).filter((t) => !["test", "microbench"].includes(t))) {
    const r = await runTask(task, ["--help"]);
    assert.equal(r.code, 0, `${task}: ${r.stderr}`);
    const usage = /usage: deno task (\S+)/.exec(r.stdout);
    assert.equal(usage?.[1], task, `${task} --help: ${r.stdout.slice(0, 200)}`);
    const flags = [...r.stdout.matchAll(/^\s{2,}(--[a-z0-9-]+)/gm)].map((m) => m[1]);
    assert.equal(new Set(flags).size, flags.length, `${task} --help repeats an option: ${flags}`);
  }
});
