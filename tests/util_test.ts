import assert from "node:assert/strict";
import { join } from "node:path";
import { tableFromArrays } from "apache-arrow";
import { readArrowFile, tableMetadata, writeArrowFile } from "../lib/arrow.ts";
import { writeFileAtomic } from "../lib/fsutil.ts";
import { formatSeconds, inJupyter, Progress } from "../lib/progress.ts";

Deno.test("arrow: a table and its metadata read back", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "sub", "t.arrow");
  const t = tableFromArrays({
    layer: Int32Array.from([0, 1]),
    value: Float64Array.from([1.5, -2]),
    name: ["a", "b"],
  });
  await writeArrowFile(path, t, { model: "m" });
  const back = await readArrowFile(path);
  assert.deepEqual(back.getChild("value")!.toArray(), Float64Array.from([1.5, -2]));
  assert.deepEqual(back.getChild("name")!.toArray(), ["a", "b"]);
  assert.equal(tableMetadata(back).model, "m");
  assert.deepEqual([...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name), ["t.arrow"]);
  await Deno.writeTextFile(path, "not arrow");
  await assert.rejects(() => readArrowFile(path), /t\.arrow: not an Arrow IPC file/);
});

Deno.test("writeFileAtomic replaces whole files and leaves no temporary behind", async () => {
  const dir = await Deno.makeTempDir();
  const p = join(dir, "x.json");
  await writeFileAtomic(p, "one");
  await writeFileAtomic(p, new TextEncoder().encode("two"));
  assert.equal(await Deno.readTextFile(p), "two");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x.json"]);
});

Deno.test("progress: rate, ETA and the non-terminal line mode", () => {
  const lines: string[] = [];
  const bar = new Progress("work", 4, { write: (t) => lines.push(t), tty: false, every: 0 });
  bar.tick();
  bar.tick(3, "last");
  bar.done();
  assert.match(lines[0], /^work \[#{6}-{18}\] 1\/4 25% .* ETA /);
  assert.match(lines.at(-1)!, /4\/4 100% .* in /);
  assert.equal(formatSeconds(75), "1m15s");
  assert.equal(formatSeconds(179.7), "3m00s");
  assert.equal(formatSeconds(59.7), "1m00s");
  assert.equal(formatSeconds(NaN), "?");
});

Deno.test("progress: outside a notebook, no Jupyter kernel is detected", () => {
  // (inside one, notebooks/00_smoke.ipynb checks it; scripts/run_notebooks.sh runs it)
  assert.equal(inJupyter(), false);
});
