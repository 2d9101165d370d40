/** The reproduction grid: cells, shards, tables, and an end-to-end run that resumes. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readArrowFile } from "../lib/arrow.ts";
import { gridCells, parseShard, shardCells } from "../lib/reproduce/grid.ts";
import { csvTable, markdownTable } from "../lib/reproduce/tables.ts";
import { runTask } from "./helpers/cli.ts";

Deno.test("grid: every cell once, shards partition it deterministically", () => {
  const cells = gridCells(["a/m1", "b/m2"], ["fp32", "quamba"], ["piqa", "winogrande"]);
  // per model: 1 stats + 1 quantize + quality + sensitivity + 4 evals + 2 latency
  assert.equal(cells.length, 20);
  assert.equal(new Set(cells.map((c) => c.id)).size, 20);
  assert.deepEqual(cells.slice(0, 5).map((c) => c.id), [
    "stats--m1",
    "quantize--m1--quamba",
    "quality--m1",
    "sensitivity--m1",
    "eval--m1--fp32--piqa",
  ]);
  const plain = gridCells(["a/m1"], ["fp32"], ["piqa"], { sensitivity: false });
  assert.deepEqual(plain.map((c) => c.kind), ["stats", "eval", "latency"]); // nothing to compare
  const shards = [0, 1, 2].map((i) => shardCells(cells, parseShard(`${i}/3`)));
  assert.deepEqual(shards.flat().map((c) => c.id).sort(), cells.map((c) => c.id).sort());
  assert.deepEqual(shardCells(cells, parseShard("1/3")), shards[1]);
  assert.throws(() => parseShard("3/3"), /--shard must be i\/n/);
  assert.throws(() => parseShard("x"), /--shard must be i\/n/);
});

Deno.test("tables: Markdown and CSV quoting", () => {
  const rows = [{ model: "m", method: "a,b", acc: 0.51234, n: 12, ppl: null }];
  assert.match(markdownTable(rows), /\| m \| a,b \| 0\.5123 \| 12 \| – \|/);
  assert.equal(csvTable(rows), 'model,method,acc,n,ppl\nm,"a,b",0.51234,12,\n');
});

const reproduce = (args: string[], env?: Record<string, string>) =>
  runTask("reproduce", args, { env });

Deno.test("reproduce: a small grid end to end, resumed without redoing cells", async () => {
  const out = await Deno.makeTempDir({ prefix: "quamba-reproduce-" });
  const args = [
    "--methods",
    "fp32,w8a8",
    "--tasks",
    "winogrande",
    "--limit",
    "6",
    "--samples",
    "2",
    "--prompt",
    "8",
    "--gen",
    "4",
    "--repeats",
    "1",
    "--quality-tokens",
    "512",
    "--sensitivity-tokens",
    "128",
    "--out",
    out,
  ];
  const env = { QUAMBA_KIT_CACHE: join(out, "..", `${out.split("/").pop()}-cache`) };
  const first = await reproduce([...args, "--shard", "0/2"], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /shard 0\/2 done/);
  const second = await reproduce(args, env);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /8 cells, 4 already done/);
  // the KL table comes first, every number with its interval; accuracy with ± and n
  const kl = second.stdout.indexOf("Distance from fp32"),
    accuracy = second.stdout.indexOf("Accuracy");
  assert.ok(kl >= 0 && kl < accuracy, second.stdout);
  assert.match(second.stdout, /\| embedded \| w8a8 \| [\d.e-]+ \[[\d.e-]+, [\d.e-]+\] \|/);
  assert.match(
    second.stdout,
    /\| embedded \| w8a8 \| – \| – \| – \| – \| – \| 0\.\d+ ± 0\.\d+ \|/,
  );
  assert.match(second.stdout, /WinoGrande acc \(n=6\)/);
  const klTable = await readArrowFile(join(out, "tables", "kl.arrow"));
  assert.deepEqual(klTable.getChild("method")!.toArray(), ["w8a8"]);
  assert.ok(klTable.getChild("kl_mean_lo")!.get(0) <= klTable.getChild("kl_mean")!.get(0));
  assert.ok((await Deno.stat(join(out, "figures", "embedded", "kl_distribution.png"))).size > 1000);
  // the sensitivity cell: every group of every layer, and the ablation's points
  const sens = await readArrowFile(join(out, "tables", "sensitivity.arrow"));
  assert.equal(sens.numRows, 4 * 18);
  assert.equal((await readArrowFile(join(out, "tables", "ablation.arrow"))).numRows, 16);
  for (const f of ["sensitivity_heatmap.png", "ablation.png"]) {
    assert.ok((await Deno.stat(join(out, "figures", "embedded", f))).size > 1000);
  }
  const acc = await readArrowFile(join(out, "tables", "accuracy.arrow"));
  assert.deepEqual(acc.getChild("method")!.toArray(), ["fp32", "w8a8"]);
  assert.equal(acc.getChild("WinoGrande acc n")!.get(0), 6);
  assert.ok(acc.getChild("WinoGrande acc ±")!.get(0) > 0);
  for (const f of ["latency.md", "latency.csv", "accuracy.json", "kl.md", "kl_positions.csv"]) {
    assert.ok((await Deno.stat(join(out, "tables", f))).size > 0);
  }
  assert.ok((await Deno.stat(join(out, "figures", "embedded", "clipping_u.png"))).size > 1000);
  assert.match(await Deno.readTextFile(join(out, "report.html")), /<html/);
  const again = await reproduce(args, env);
  assert.match(again.stderr, /8 cells, 8 already done/);
  const changed = await reproduce([...args.slice(0, -2), "--limit", "7", "--out", out], env);
  assert.equal(changed.code, 1);
  assert.match(changed.stderr, /holds a run with other settings/);
  const bad = await reproduce(["--methods", "fp32,int3", "--out", out], env);
  assert.match(bad.stderr, /unknown method 'int3'/);

  // the same grid again, in one go into a new folder: the same accuracy table to the last digit
  // (the first run was split over two processes and resumed from its evaluation cache)
  const out2 = await Deno.makeTempDir({ prefix: "quamba-reproduce-" });
  const fresh = await reproduce([...args.slice(0, -2), "--out", out2], env);
  assert.equal(fresh.code, 0, fresh.stderr);
  const table = async (dir: string) =>
    JSON.parse(await Deno.readTextFile(join(dir, "tables", "accuracy.json"))).rows;
  assert.deepEqual(await table(out2), await table(out));

  // a damaged cell: report names it; reproduce redoes it
  const cell = join(out, "cells", "eval--embedded--w8a8--winogrande.json");
  const whole = await Deno.readTextFile(cell);
  await Deno.writeTextFile(cell, whole.slice(0, 40));
  const report = await runTask("report", ["--out", out], { env });
  assert.equal(report.code, 1);
  assert.match(report.stderr, /eval--embedded--w8a8--winogrande\.json: damaged cell result/);
  const redo = await reproduce(args, env);
  assert.equal(redo.code, 0, redo.stderr);
  assert.match(redo.stderr, /damaged cell result .*redoing that cell/);
  assert.match(redo.stderr, /8 cells, 7 already done/);
  assert.deepEqual(await table(out), await table(out2));
  // and the KL table too: the same numbers, intervals included, in one go as in two shards
  const klRows = async (dir: string) =>
    JSON.parse(await Deno.readTextFile(join(dir, "tables", "kl.json"))).rows;
  assert.deepEqual(await klRows(out2), await klRows(out));
});
