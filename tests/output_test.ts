/**
 * Nothing a user owns is deleted or overwritten (issue 11, items 1 and 12): output folders are
 * checked before any work; relative paths are the user's; only the kit's own earlier output is
 * replaced, unless --force; never an input, a file, the kit itself, the home folder or `/`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { KitError } from "../lib/errors.ts";
import { MARKER, prepareOutputDir } from "../lib/output.ts";
import { EMBEDDED_MODEL, KIT_ROOT } from "../lib/paths.ts";
import { loadModel } from "../lib/model.ts";
import { quantize } from "../lib/quant/quantize.ts";
import { runTask } from "./helpers/cli.ts";

const files = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/** A user's folder with files of their own. */
async function userFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "quamba-user-" });
  await Deno.writeTextFile(join(dir, "thesis.tex"), "my thesis");
  await Deno.mkdir(join(dir, "figures"));
  await Deno.writeTextFile(join(dir, "figures", "a.png"), "png");
  return dir;
}

Deno.test("prepareOutputDir: new, empty and own folders pass; anything else needs force", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-out-" });
  const fresh = await prepareOutputDir(join(tmp, "new", "deep"), "stats");
  assert.deepEqual(files(fresh), [MARKER]);
  assert.equal(JSON.parse(Deno.readTextFileSync(join(fresh, MARKER))).task, "stats");
  await Deno.writeTextFile(join(fresh, "scalars.arrow"), "x");
  await prepareOutputDir(fresh, "stats"); // its own earlier output
  await assert.rejects(
    () => prepareOutputDir(fresh, "eval"),
    /holds the output of 'deno task stats'/,
  );
  const user = await userFolder();
  await assert.rejects(
    () => prepareOutputDir(user, "stats"),
    (e: Error) =>
      e instanceof KitError &&
      /--out .*quamba-user-.*: holds files the kit did not write/.test(e.message) &&
      /figures, thesis.tex/.test(e.message) && /--force/.test(e.message),
  );
  assert.deepEqual(files(user), ["figures", "thesis.tex"]); // untouched, not even a marker
  await prepareOutputDir(user, "stats", { force: true });
  assert.deepEqual(files(user), [MARKER, "figures", "thesis.tex"]);
  const file = join(tmp, "notes.txt");
  await Deno.writeTextFile(file, "mine");
  for (const force of [false, true]) {
    await assert.rejects(() => prepareOutputDir(file, "stats", { force }), /is a file/);
  }
  assert.equal(Deno.readTextFileSync(file), "mine");
});

Deno.test("prepareOutputDir: inputs, the kit, home and / are refused even with force", async () => {
  const model = await userFolder();
  for (const force of [false, true]) {
    await assert.rejects(
      () => prepareOutputDir(model, "quantize", { inputs: [model], force }),
      /that is an input of this task/,
    );
    await assert.rejects(
      () => prepareOutputDir(join(model, ".."), "stats", { inputs: [model], force }),
      /it holds .*an input of this task/,
    );
    await assert.rejects(
      () => prepareOutputDir(join(KIT_ROOT, "data"), "stats", { force }),
      /inside the kit's own data\/ folder/,
    );
    await assert.rejects(
      () => prepareOutputDir(join(KIT_ROOT, "lib", "x"), "stats", { force }),
      /inside the kit's own lib\/ folder/,
    );
    await assert.rejects(() => prepareOutputDir(KIT_ROOT, "stats", { force }), /the kit itself/);
    await assert.rejects(() => prepareOutputDir("/", "stats", { force }), /root folder/);
    const link = join(await Deno.makeTempDir(), "link");
    await Deno.symlink(model, link);
    await assert.rejects(
      () => prepareOutputDir(link, "quantize", { inputs: [model], force }),
      /that is an input of this task/,
    );
    const home = Deno.env.get("HOME");
    if (home) await assert.rejects(() => prepareOutputDir(home, "stats", { force }), /home/);
  }
});

Deno.test("quantize CLI: a file, a user's folder, the checkpoint, data/ are never replaced", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-qout-" });
  const env = { QUAMBA_KIT_CACHE: join(tmp, "cache") };
  const q = (out: string, ...more: string[]) =>
    runTask("quantize", [
      "--method",
      "w8a8",
      "--samples",
      "2",
      "--max-len",
      "64",
      "--out",
      out,
      ...more,
    ], {
      cwd: tmp,
      env,
    });
  const file = join(tmp, "report.pdf");
  await Deno.writeTextFile(file, "%PDF");
  let r = await q(file);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /--out .*report\.pdf: is a file/);
  assert.equal(Deno.readTextFileSync(file), "%PDF");

  const user = await userFolder();
  r = await q(user);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /holds files the kit did not write \(figures, thesis\.tex\)/);
  assert.deepEqual(files(user), ["figures", "thesis.tex"]);

  // the source checkpoint, even with --force (a copy, so that nothing can harm the kit's)
  const ckpt = join(tmp, "ckpt");
  await Deno.mkdir(ckpt);
  for (const f of files(EMBEDDED_MODEL)) {
    await Deno.copyFile(join(EMBEDDED_MODEL, f), join(ckpt, f));
  }
  r = await q(ckpt, "--model", ckpt, "--force");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /that is an input of this task/);
  assert.deepEqual(files(ckpt), files(EMBEDDED_MODEL));

  // `--out data` from the kit's folder is the kit's data/, whatever --force says
  const before = files(join(KIT_ROOT, "data"));
  r = await runTask("quantize", ["--method", "w8a8", "--out", "data", "--force"], {
    cwd: KIT_ROOT,
    env,
  });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /inside the kit's own data\/ folder|holds .*data\/models\/embedded, an input/,
  );
  assert.deepEqual(files(join(KIT_ROOT, "data")), before);
  assert.ok(r.seconds < 30, `refused after ${r.seconds} s: checks come before the work`);
});

Deno.test("quantize CLI: relative --out is the user's folder; own output replaced, extras kept", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-qrel-" });
  const env = { QUAMBA_KIT_CACHE: join(tmp, "cache") };
  const args = ["--method", "w8a8", "--samples", "2", "--max-len", "64", "--out", "q"];
  let r = await runTask("quantize", args, { cwd: tmp, env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`saved to ${join(tmp, "q")}`));
  const manifest = JSON.parse(Deno.readTextFileSync(join(tmp, "q", "manifest.json")));
  assert.deepEqual(manifest.files, files(join(tmp, "q")));
  r = await runTask("quantize", args, { cwd: tmp, env }); // its own earlier output: replaced
  assert.equal(r.code, 0, r.stderr);
  await Deno.writeTextFile(join(tmp, "q", "notes.md"), "my notes");
  r = await runTask("quantize", args, { cwd: tmp, env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /besides the kit's earlier output it holds notes\.md/);
  assert.equal(Deno.readTextFileSync(join(tmp, "q", "notes.md")), "my notes");
});

Deno.test("quantize(): the library refuses a user's folder as out (before calibrating)", async () => {
  const user = await userFolder();
  const fp = await loadModel(EMBEDDED_MODEL);
  try {
    await assert.rejects(
      () =>
        quantize(fp, { method: "w8a8", calibration: ["a short text of a few words"], out: user }),
      /out .*: holds files the kit did not write .* pass --force/,
    );
    assert.deepEqual(files(user), ["figures", "thesis.tex"]);
  } finally {
    await fp.close();
  }
});

Deno.test("tasks check --out and the cache before the work, naming the flag and path", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "quamba-pre-" });
  const file = join(tmp, "taken");
  await Deno.writeTextFile(file, "x");
  const env = { QUAMBA_KIT_CACHE: join(tmp, "cache") };
  const cases: [string, string[]][] = [
    ["stats", ["--out", file]],
    ["eval", ["--tasks", "piqa", "--limit", "2", "--out", file]],
    ["bench", ["--sizes", "130m", "--out", file]],
    ["quantize", ["--method", "quamba", "--out", file]],
    ["stats", ["--out", join(file, "stats")]], // a folder under a file cannot be made
  ];
  for (const [task, args] of cases) {
    const r = await runTask(task, args, { cwd: tmp, env });
    assert.equal(r.code, 1, `${task}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^error: --out \S+: (is a file|cannot write there)/m,
      `${task}: ${r.stderr}`,
    );
    assert.ok(!/\n\s+at /.test(r.stderr), `${task}: a stack trace\n${r.stderr}`);
    assert.ok(r.seconds < 30, `${task} failed after ${r.seconds.toFixed(1)} s`);
  }
  const r = await runTask("stats", ["--out", join(tmp, "s")], {
    cwd: tmp,
    env: { QUAMBA_KIT_CACHE: "/proc/quamba-kit-test/cache" },
  });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: \$QUAMBA_KIT_CACHE \/proc\/quamba-kit-test\/cache: cannot write there/m,
  );
});
