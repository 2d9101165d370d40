/**
 * Temporaries of dead processes are removed, those of live ones (or of other machines) never;
 * a killed `deno task` does not leave its script running (issue 11, item 2).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { KIT_ROOT } from "../lib/paths.ts";
import { writeModelFolder } from "../lib/onnx/save.ts";
import { Graph } from "../lib/onnx/builder.ts";
import { processAlive, removeStaleTemps, tempPath } from "../lib/temp.ts";

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const p = new Deno.Command("true").spawn();
  await p.status;
  return p.pid;
}

Deno.test("removeStaleTemps: only a dead process's temporaries of this machine go", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quamba-stale-" });
  const dead = await deadPid();
  const mine = tempPath(join(dir, "out")); // this (live) process
  const host = mine.split(".tmp-")[1].split(`-${Deno.pid}-`)[0];
  const names = {
    deadFolder: `out.tmp-${host}-${dead}-0123abcd`,
    deadOld: `out.old-${host}-${dead}-89abcdef`,
    legacy: `out.tmp-${dead}-1764450000000`, // kit 0.1.0's name for the same thing
    live: mine.split("/").pop()!,
    otherHost: `out.tmp-elsewhere-${dead}-0123abcd`,
    user: "out.tmp-notes", // not a name the kit makes
  };
  for (const n of Object.values(names)) await Deno.mkdir(join(dir, n));
  await Deno.writeTextFile(join(dir, names.deadFolder, "weights.bin"), "partial");
  const removed = (await removeStaleTemps(dir)).map((p) => p.split("/").pop()).sort();
  assert.deepEqual(removed, [names.deadFolder, names.deadOld, names.legacy].sort());
  const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(left, [names.live, names.otherHost, names.user].sort());
});

Deno.test("writeModelFolder removes what a killed writer of the same folder left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quamba-stale-" });
  const host = tempPath("x").split(".tmp-")[1].split(`-${Deno.pid}-`)[0];
  const stale = join(dir, `model.tmp-${host}-${await deadPid()}-0badcafe`);
  await Deno.mkdir(stale);
  const g = new Graph("g");
  g.output(g.input("x", "float32", [1]), "float32", [1], "y");
  await writeModelFolder(join(dir, "model"), { "m.onnx": g });
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["model"]);
});

/** `ps` (Deno lets no test read /proc/<pid> without every permission). */
async function ps(...args: string[]): Promise<string> {
  const out = await new Deno.Command("ps", { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout);
}

/** Children of `pid`. */
const children = async (pid: number) =>
  (await ps("-o", "pid=", "--ppid", String(pid))).split(/\s+/).filter(Boolean).map(Number);

/** Alive and not a zombie. */
const alive = async (pid: number) =>
  /^[^Z]/.test((await ps("-o", "stat=", "-p", String(pid))).trim());

Deno.test("processAlive: this process, a live child, a dead one", async () => {
  assert.ok(processAlive(Deno.pid));
  const child = new Deno.Command("sleep", { args: ["5"] }).spawn();
  assert.ok(processAlive(child.pid));
  child.kill();
  await child.status;
  assert.ok(!processAlive(child.pid));
  assert.ok(!processAlive(await deadPid()));
});

Deno.test({
  name: "a killed `deno task` takes its script with it",
  ignore: Deno.build.os !== "linux", // ps --ppid
  fn: async () => {
    const t = new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "--config",
        join(KIT_ROOT, "deno.json"),
        "generate",
        "--max-new-tokens",
        "1000000",
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let kids: number[] = [];
    for (let i = 0; i < 100 && kids.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      kids = await children(t.pid);
    }
    assert.ok(kids.length > 0, "deno task started no script");
    await new Promise((r) => setTimeout(r, 1500)); // the script is generating
    for (const k of kids) assert.ok(await alive(k));
    t.kill("SIGTERM");
    await t.status;
    let left = kids;
    for (let i = 0; i < 50 && left.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const still = [];
      for (const k of left) if (await alive(k)) still.push(k);
      left = still;
    }
    assert.deepEqual(left, [], "the script outlived the killed deno task");
  },
});

Deno.test({
  name: "readProcFile: /proc through the C library (Deno lets tasks read it only with -A)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const { readProcFile, writeProcFile } = await import("../lib/proc_files.ts");
    assert.match(readProcFile("/proc/self/status") ?? "", /^VmRSS:\s+\d+ kB/m);
    assert.match(readProcFile("/proc/cpuinfo") ?? "", /^processor\s*:/m);
    assert.equal(readProcFile("/proc/no-such-file"), undefined);
    assert.equal(writeProcFile("/proc/no-such-file", "x"), false);
  },
});
