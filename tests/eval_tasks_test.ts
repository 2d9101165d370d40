/**
 * Each task's documents and requests on hand-written examples, checked against lm-eval's task
 * definitions written out by hand; and every kind of malformed data giving an error that names
 * the file and line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { KitError } from "../lib/errors.ts";
import { encodeRequest, type Request } from "../lib/eval/requests.ts";
import { pyCapitalize, pyRstrip, pyWordCount } from "../lib/eval/pystr.ts";
import { type Task, type TaskEnv, tokenRequestsOf } from "../lib/eval/task.ts";
import { getTask } from "../lib/eval/tasks/index.ts";
import { HELLASWAG_DERIVED, HELLASWAG_ORIGINAL } from "../lib/eval/tasks/hellaswag.ts";
import type { Tokenizer } from "../lib/tokenizer.ts";

/** A character-level tokenizer: ids are code points (independent of any BPE). */
const charTok: Tokenizer = {
  encode: (s) => Array.from(s, (c) => c.codePointAt(0)!),
  decode: (ids) => String.fromCodePoint(...ids),
  vocabSize: 0x110000,
  eosId: 0,
};
const env: TaskEnv = { tokenizer: charTok, prefixId: 0, maxLength: 2048 };

/** Writes `files` (path → text) into a new folder and returns it. */
async function dataDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "quamba-eval-data-" });
  for (const [p, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, p, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, p), text);
  }
  return dir;
}

async function requestsOf(name: string, files: Record<string, string>) {
  const task = getTask(name) as Task<unknown>;
  const loaded = await task.load(await dataDir(files), env);
  return { loaded, task, reqs: loaded.docs.map((d) => task.requests!(d)) };
}

const jsonl = (...rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

Deno.test("encodeRequest: lm-eval's rules with a character tokenizer", () => {
  assert.deepEqual(encodeRequest(charTok, { context: "ab \n", continuation: "c" }, 0), {
    context: [97, 98],
    continuation: [32, 10, 99],
  });
  assert.deepEqual(encodeRequest(charTok, { context: "", continuation: " x" }, 0), {
    context: [0],
    continuation: [32, 120],
  });
  // \ufeff is whitespace for JavaScript's trimEnd but not for Python's rstrip.
  assert.equal(pyRstrip("a\ufeff"), "a\ufeff");
  assert.equal(pyRstrip("a\x1c\x85 "), "a");
});

Deno.test("Python string helpers: capitalize lowers the rest, word count keeps empty ends", () => {
  assert.equal(pyCapitalize("he plays the iPhone X."), "He plays the iphone x.");
  assert.equal(pyCapitalize(""), "");
  assert.equal(pyWordCount(" a  b\nc "), 5); // re.split(r"\s+", " a  b\nc ") → ['', 'a', 'b', 'c', '']
});

Deno.test("lambada_openai: context = all words but the last, continuation = ' ' + last word", async () => {
  const { reqs } = await requestsOf("lambada_openai", {
    "lambada_openai/lambada_test.jsonl": jsonl({ text: "he looked at  the  dog" }, {
      text: "one two",
    }),
  });
  assert.deepEqual(reqs, [
    [{ context: "he looked at  the ", continuation: " dog" }],
    [{ context: "one", continuation: " two" }],
  ]);
  // Encoded, the trailing space of "the " moves to the continuation.
  const t = encodeRequest(charTok, reqs[0][0], 0);
  assert.equal(String.fromCodePoint(...t.continuation), "  dog");
});

Deno.test("hellaswag original format: preprocess and ctx_b.capitalize()", async () => {
  const { loaded, reqs } = await requestsOf("hellaswag", {
    "hellaswag/hellaswag_val.jsonl": jsonl({
      activity_label: "Making a cake",
      ctx_a: "[header] How to bake. [title] Mix the flour.",
      ctx_b: "then she ADDS  eggs",
      endings: [" [step] Stir well. ", "Bake it [substeps] now.", "x", "y"],
      label: "2",
    }),
  });
  assert.equal(loaded.format, HELLASWAG_ORIGINAL);
  // strip; " [title]" → ". "; drop "[header]"; then "  " → " " (once, left to right)
  const query = "Making a cake: How to bake.. Mix the flour. Then she adds eggs";
  assert.deepEqual(reqs[0], [
    { context: query, continuation: "  Stir well." }, // "[step]" goes after the strip
    { context: query, continuation: " Bake it now." },
    { context: query, continuation: " x" },
    { context: query, continuation: " y" },
  ]);
  assert.equal((loaded.docs[0] as { gold: number }).gold, 2);
});

Deno.test("hellaswag derived format: 6 lines per task, no capitalisation, format recorded", async () => {
  const { loaded, reqs } = await requestsOf("hellaswag", {
    "hellaswag/hellaswag_val_full.txt":
      "Roof shingle removal: a man is on a roof. he\n3\nA\nB\nC\n goes  down [step] \n",
  });
  assert.equal(loaded.format, HELLASWAG_DERIVED);
  // strip first, then drop "[step]": the space before it stays.
  const q = "Roof shingle removal: a man is on a roof. he";
  assert.deepEqual(reqs[0].map((r: Request) => r.continuation), [" A", " B", " C", " goes down "]);
  assert.equal(reqs[0][0].context, q);
  assert.equal((loaded.docs[0] as { gold: number }).gold, 3);
});

Deno.test("piqa: Question/Answer prompt, labels from the .lst file", async () => {
  const { loaded, reqs } = await requestsOf("piqa", {
    "piqa/valid.jsonl": jsonl({ goal: "Open a jar", sol1: "twist the lid", sol2: "eat it" }),
    "piqa/valid-labels.lst": "0\n",
  });
  assert.deepEqual(reqs[0], [
    { context: "Question: Open a jar\nAnswer:", continuation: " twist the lid" },
    { context: "Question: Open a jar\nAnswer:", continuation: " eat it" },
  ]);
  assert.equal((loaded.docs[0] as { gold: number }).gold, 0);
});

const arcRow = (labels: string[], key: string) => ({
  id: "q",
  question: {
    stem: "Which is a gas?",
    choices: labels.map((label, i) => ({ text: `choice ${i}`, label })),
  },
  answerKey: key,
});

Deno.test("arc: letter and digit labels, 3 to 5 choices", async () => {
  const { loaded, reqs } = await requestsOf("arc_easy", {
    "arc/ARC-Easy-Test.jsonl": jsonl(
      arcRow(["A", "B", "C", "D"], "C"),
      arcRow(["1", "2", "3"], "3"),
      arcRow(["A", "B", "C", "D", "E"], "A"),
    ),
  });
  assert.deepEqual(loaded.docs.map((d) => (d as { gold: number }).gold), [2, 2, 0]);
  assert.equal(reqs[1].length, 3);
  assert.equal(reqs[2].length, 5);
  assert.deepEqual(reqs[0][1], {
    context: "Question: Which is a gas?\nAnswer:",
    continuation: " choice 1",
  });
  const c = await requestsOf("arc_challenge", {
    "arc/ARC-Challenge-Test.jsonl": jsonl(arcRow(["A", "B", "C", "D"], "D")),
  });
  assert.equal((c.loaded.docs[0] as { gold: number }).gold, 3);
});

Deno.test("winogrande: partial scoring splits at the blank", async () => {
  const { loaded, reqs } = await requestsOf("winogrande", {
    "winogrande/dev.jsonl": jsonl({
      qID: "1",
      sentence: "Sarah was a much better surgeon than Maria so _ always got the harder cases.",
      option1: "Sarah",
      option2: "Maria",
      answer: "2",
    }),
    "winogrande/dev-labels.lst": "2\n",
  });
  const cont = " always got the harder cases.";
  assert.deepEqual(reqs[0], [
    { context: "Sarah was a much better surgeon than Maria so Sarah", continuation: cont },
    { context: "Sarah was a much better surgeon than Maria so Maria", continuation: cont },
  ]);
  assert.equal((loaded.docs[0] as { gold: number }).gold, 1);
  // Both requests share the continuation's tokens but not the context.
  const [a, b] = reqs[0].map((r: Request) => encodeRequest(charTok, r, 0));
  assert.deepEqual(a.continuation, b.continuation);
});

Deno.test("multiple choice: acc and acc_norm (per character of the choice) by hand", () => {
  const task = getTask("arc_easy");
  const doc = { query: "q", choices: ["a", "bbbb", "cc"], gold: 1 };
  // lls: -1, -3, -2.5 → acc picks 0 (wrong); per char: -1, -0.75, -1.25 → picks 1 (right).
  const lls = [-1, -3, -2.5].map((logprob) => ({ logprob, isGreedy: false }));
  assert.deepEqual(task.process(doc, lls), { acc: 0, acc_norm: 1 });
});

Deno.test("tokenRequestsOf encodes text tasks with the env's tokenizer", () => {
  const task = getTask("piqa") as Task<unknown>;
  const doc = { query: "Q:", choices: ["a"], gold: 0 };
  assert.deepEqual(tokenRequestsOf(task, doc, env), [{
    context: [81, 58],
    continuation: [32, 97],
  }]);
});

/** Asserts that loading `task` from `files` fails with a KitError matching `re`. */
async function assertBad(task: string, files: Record<string, string>, re: RegExp) {
  const dir = await dataDir(files);
  await assert.rejects(() => getTask(task).load(dir, env), (e: Error) => {
    assert.ok(e instanceof KitError, `${e}`);
    assert.match(e.message.replace(dir + "/", ""), re);
    return true;
  });
}

Deno.test("malformed data: errors name the file and the line", async () => {
  const L = "lambada_openai/lambada_test.jsonl";
  await assertBad(
    "lambada_openai",
    { [L]: '{"text": "a b"}\n{"text": "a b"\n' },
    /^lambada_openai\/lambada_test.jsonl:2: not valid JSON/,
  );
  await assertBad(
    "lambada_openai",
    { [L]: '{"text": "a b"}\n{"txt": "a b"}\n' },
    /^lambada_openai\/lambada_test.jsonl:2: missing field 'text'/,
  );
  await assertBad("lambada_openai", { [L]: '{"text": 3}\n' }, /:1: field 'text' must be a string/);
  await assertBad("lambada_openai", { [L]: "" }, /^lambada_openai\/lambada_test.jsonl: empty file/);
  await assertBad("lambada_openai", {}, /^lambada_openai\/lambada_test.jsonl: file not found/);
  await assertBad("lambada_openai", { [L]: "[1]\n" }, /:1: expected a JSON object/);

  const P = {
    "piqa/valid.jsonl": jsonl({ goal: "g", sol1: "a", sol2: "b" }, {
      goal: "g",
      sol1: "a",
      sol2: "b",
    }),
  };
  await assertBad(
    "piqa",
    { ...P, "piqa/valid-labels.lst": "0\n2\n" },
    /^piqa\/valid-labels.lst:2: label 2 is out of range 0..1/,
  );
  await assertBad(
    "piqa",
    { ...P, "piqa/valid-labels.lst": "0\n" },
    /^piqa\/valid-labels.lst: 1 labels for 2 examples/,
  );
  await assertBad(
    "piqa",
    { ...P, "piqa/valid-labels.lst": "0\nx\n" },
    /valid-labels.lst:2: label "x" is not an integer/,
  );
  await assertBad("piqa", {
    "piqa/valid.jsonl": jsonl({ goal: "g", sol1: "a" }),
    "piqa/valid-labels.lst": "0\n",
  }, /^piqa\/valid.jsonl:1: missing field 'sol2'/);

  const A = "arc/ARC-Easy-Test.jsonl";
  await assertBad("arc_easy", {
    [A]: jsonl(arcRow(["A", "B", "C"], "A"), arcRow(["A", "B", "C", "D"], "E")),
  }, /^arc\/ARC-Easy-Test.jsonl:2: answerKey 'E' is not one of the labels A, B, C, D/);
  await assertBad(
    "arc_easy",
    { [A]: jsonl(arcRow(["A", "B"], "A")) },
    /:1: 2 choices, expected 3 to 5/,
  );
  await assertBad("arc_easy", {
    [A]: jsonl({ question: { stem: "s", choices: [{ label: "A" }] }, answerKey: "A" }),
  }, /:1: missing field 'question.choices\[0\].text'/);
  await assertBad("arc_easy", { [A]: jsonl({ answerKey: "A" }) }, /:1: missing field 'question'/);

  const H = "hellaswag/hellaswag_val.jsonl";
  const h = { activity_label: "a", ctx_a: "b", ctx_b: "c", endings: ["1", "2", "3", "4"] };
  await assertBad(
    "hellaswag",
    { [H]: jsonl({ ...h, label: 0 }, { ...h, label: 4 }) },
    /^hellaswag\/hellaswag_val.jsonl:2: label 4 is out of range 0..3/,
  );
  await assertBad("hellaswag", { [H]: jsonl({ ...h }) }, /:1: missing field 'label'/);
  await assertBad(
    "hellaswag",
    { [H]: jsonl({ ...h, endings: ["1"], label: 0 }) },
    /:1: 1 endings, expected 4/,
  );
  await assertBad(
    "hellaswag",
    { "hellaswag/hellaswag_val_full.txt": "ctx\n7\na\nb\nc\nd\n" },
    /^hellaswag\/hellaswag_val_full.txt:2: label 7 is out of range/,
  );
  await assertBad(
    "hellaswag",
    { "hellaswag/hellaswag_val_full.txt": "ctx\n1\na\nb\n" },
    /hellaswag_val_full.txt:4: 4 lines is not a multiple of 6/,
  );

  const W = "winogrande/dev.jsonl";
  const w = { sentence: "A _ b.", option1: "x", option2: "y" };
  await assertBad(
    "winogrande",
    { [W]: jsonl({ ...w, answer: "1" }, { ...w, answer: "3" }) },
    /^winogrande\/dev.jsonl:2: answer "3" is out of range \(expected 1 or 2\)/,
  );
  await assertBad(
    "winogrande",
    { [W]: jsonl({ ...w, sentence: "no blank", answer: "1" }) },
    /:1: sentence has no '_' blank/,
  );
  await assertBad("winogrande", {
    [W]: jsonl({ ...w, answer: "1" }),
    "winogrande/dev-labels.lst": "2\n",
  }, /dev.jsonl:1: answer 1 disagrees with .*dev-labels.lst:1/);

  await assertBad(
    "wikitext",
    { "wikitext-2/wiki.test.raw": " \n \n" },
    /^wikitext-2\/wiki.test.raw: empty file/,
  );
  await assertBad(
    "quamba_wikitext2",
    { "wikitext-2/wiki.test.raw": "short\n" },
    /^wikitext-2\/wiki.test.raw: \d+ tokens, fewer than one window of 2048/,
  );
});
