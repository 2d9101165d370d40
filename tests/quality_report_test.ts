/**
 * The quality outputs: figures drawn from hand-made results (what they show can be read back),
 * tables, the --out guard, the sensitivity and ablation plumbing on a random checkpoint, and
 * `deno task compare` end to end on a small run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readArrowFile } from "../lib/arrow.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import {
  ablationPlot,
  klByPositionPlot,
  klDistributionPlot,
  sensitivityHeatmap,
} from "../lib/plots/quality.ts";
import { clusterDraws } from "../lib/quality/bootstrap.ts";
import { compareMethods, type Comparison, summarizeMethod } from "../lib/quality/compare.ts";
import { percentileAblation, sensitivity } from "../lib/quality/sensitivity.ts";
import { estimateText, klDisplayRows, klRows } from "../lib/quality/tables.ts";
import { openVariant } from "../lib/quality/variants.ts";
import { scoringWindows } from "../lib/quality/windows.ts";
import { mulberry32 } from "../lib/random.ts";
import { collectStats } from "../lib/stats/collect.ts";
import { marks, parseSvg, texts } from "./helpers/svg_query.ts";
import { rng, tinyCheckpoint } from "./helpers/tiny.ts";
import { runTask } from "./helpers/cli.ts";
import { QUALITY_MANIFEST } from "../lib/quality/report.ts";

/** A comparison of three made-up methods: zero, small and large KL. */
function madeUp(): Comparison {
  const ids = Array.from({ length: 513 }, (_, i) => i % 50);
  const w = scoringWindows(ids, { tokens: 512, window: 64 });
  const draws = clusterDraws(w.inputs.length, { resamples: 200, seed: 1 });
  const r = mulberry32(2);
  const method = (name: string, scale: number) =>
    summarizeMethod(
      name,
      {
        kl: Float64Array.from({ length: 512 }, () => scale * r() ** 4),
        top1: Uint8Array.from({ length: 512 }, () => (r() < 1 - scale ? 1 : 0)),
        nllDelta: Float64Array.from({ length: 512 }, () => scale * (r() - 0.3)),
      },
      w,
      draws,
      0.95,
    );
  return {
    source: "made-up",
    text: "/somewhere/held_out.txt",
    reference: "fp32",
    tokens: 512,
    windows: 8,
    window: 64,
    bootstrap: { resamples: 200, seed: 1, level: 0.95, unit: "window" },
    referenceNll: { value: 4, lo: 3.9, hi: 4.1 },
    methods: [method("fp16", 0), method("quamba", 0.01), method("w8a8", 0.2)],
  };
}

Deno.test("figures: KL distribution and by position show the methods with nonzero KL", () => {
  const c = madeUp();
  for (const svg of [klDistributionPlot(c), klByPositionPlot(c)]) {
    const doc = parseSvg(svg), t = texts(doc).join(" ");
    assert.match(t, /quamba/);
    assert.match(t, /w8a8/);
    assert.match(t, /fp16: KL exactly 0 at every token \(not drawn\)/);
    assert.match(t, /512 tokens of held_out\.txt in 8 windows of 64/);
    assert.equal(marks(doc, "line", "path").length, 2); // one curve per drawn method
  }
  const pos = parseSvg(klByPositionPlot(c));
  assert.equal(marks(pos, "dot", "circle").length, 2 * 7); // 7 buckets of a 64-token window
});

Deno.test("figures: heat map cells and ablation points, one per row", () => {
  const e = (v: number) => ({ value: v, lo: v / 2, hi: 2 * v });
  const rows = [0, 1].flatMap((layer) =>
    ["u", "y", "y · Hadamard"].map((group, k) => ({
      layer,
      group,
      method: "w8a8",
      kl: e(10 ** (k - 5 + layer)),
      klP99: e(1),
      top1: e(0.9),
      nllDelta: e(0.01),
    }))
  );
  const heat = parseSvg(sensitivityHeatmap(rows));
  assert.equal(marks(heat, "cell", "rect").length, 6);
  assert.ok(texts(heat).includes("y · Hadamard"));
  assert.ok(texts(heat).includes("1.00e-4"));
  const abl = [false, true].flatMap((hadamard) =>
    [99.9, 100, "absmax" as const].map((percentile) => ({
      percentile,
      hadamard,
      method: hadamard ? "quamba" : "quamba-clip",
      kl: e(hadamard ? 0.01 : 0.05),
      top1: e(0.9),
      nllDelta: e(0.01),
    }))
  );
  const doc = parseSvg(ablationPlot(abl));
  assert.equal(marks(doc, "dot", "circle").length, 6);
  assert.ok(texts(doc).includes("absmax"));
});

Deno.test("tables: one row per method, intervals beside every number", () => {
  const c = madeUp();
  const rows = klRows(c, "m");
  assert.equal(rows.length, 3);
  assert.equal(rows[2].kl_mean, c.methods[2].kl.mean.value);
  assert.equal(rows[2].kl_mean_lo, c.methods[2].kl.mean.lo);
  assert.equal(rows[0].kl_max, 0);
  const shown = klDisplayRows(c);
  assert.match(String(shown[2]["KL mean"]), /^[\d.e-]+ \[[\d.e-]+, [\d.e-]+\]$/);
  assert.equal(shown[0]["KL mean"], "0 [0, 0]");
  assert.equal(estimateText({ value: 0.5, lo: 0.25, hi: 0.75 }, 100), "50 [25, 75]");
  assert.equal(estimateText({ value: 1.234e-5, lo: 1e-5, hi: 2e-5 }), "1.23e-5 [1.00e-5, 2.00e-5]");
});

Deno.test("compare --out: a folder of someone else's files is refused before any work", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "notes.txt"), "mine");
  const r = await runTask("compare", ["--methods", "w8a8", "--tokens", "64", "--out", dir]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /--out .*holds files the kit did not write \(notes\.txt\)/);
  assert.ok(r.seconds < 30);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["notes.txt"]);
  await Deno.remove(dir, { recursive: true });
});

const randomIds = (n: number, v: number, seed: number) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor((r() + 1) / 2 * v));
};

Deno.test("sensitivity and ablation rows are the KL of the variants they name", async () => {
  const { dir, config } = await tinyCheckpoint({ hidden_size: 20, num_hidden_layers: 2 }, 4);
  const ckpt = await openCheckpoint(dir);
  const samples = Array.from({ length: 4 }, (_, i) => randomIds(128, config.vocab_size, 40 + i));
  const stats = await collectStats(ckpt, { source: "random", samples }, {
    progress: false,
    emaPercentiles: [99.9, 99.999],
    cacheDir: dir,
  });
  const src = { ckpt, stats, workDir: dir };
  const ids = randomIds(1025, config.vocab_size, 5);
  const run = { ids, tokens: 1024, window: 128, bootstrap: { resamples: 100 } };
  const groups = [
    { name: "y", method: "w8a8", points: ["y"], description: "" },
    { name: "B", method: "w8a8", points: ["B"], description: "" },
  ];
  const rows = await sensitivity(src, { ...run, groups });
  assert.deepEqual(rows.map((r) => `${r.layer} ${r.group}`), ["0 y", "0 B", "1 y", "1 B"]);
  // the same variant through compareMethods directly gives the same estimate
  const direct = await compareMethods(dir, ["v"], {
    ...run,
    open: () => openVariant(src, "w8a8", { only: (l, p) => l === 1 && p === "B" }),
  });
  assert.deepEqual(rows[3].kl, direct.methods[0].kl.mean);
  assert.ok(rows.every((r) => r.kl.value > 0));
  const abl = await percentileAblation(src, { ...run, percentiles: [99.9, 99.999] });
  assert.deepEqual(
    abl.map((r) => `${r.method}@${r.percentile}`),
    [
      "quamba-clip@99.9",
      "quamba-clip@99.999",
      "w8a8@absmax",
      "quamba@99.9",
      "quamba@99.999",
      "quamba-hadamard@absmax",
    ],
  );
  const full = await compareMethods(dir, ["w8a8"], {
    ...run,
    open: () => openVariant(src, "w8a8", { only: () => true }),
  });
  assert.deepEqual(abl[2].kl, full.methods[0].kl.mean);
  await Deno.remove(dir, { recursive: true });
});

async function compareCli(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/compare.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task compare: tables, figures and manifest; clear errors", async () => {
  const out = join(await Deno.makeTempDir(), "cmp");
  const args = ["--methods", "fp16", "--tokens", "512", "--window", "128", "--resamples", "100"];
  const r = await compareCli([...args, "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\| fp16 \| 0 \[0, 0\] \|/);
  for (
    const f of ["kl.md", "kl.csv", "kl.json", "kl.arrow", "kl_positions.arrow", "kl_tokens.arrow"]
  ) {
    await Deno.stat(join(out, f));
  }
  const t = await readArrowFile(join(out, "kl.arrow"));
  assert.equal(t.numRows, 1);
  assert.equal(t.schema.metadata.get("windows"), "4");
  const manifest = JSON.parse(await Deno.readTextFile(join(out, QUALITY_MANIFEST)));
  assert.deepEqual(manifest.methods, ["fp16"]);
  assert.equal((await compareCli([...args, "--out", out])).code, 0); // its own folder again
  await Deno.writeTextFile(join(out, "..", "mine.txt"), "x");
  const refused = await compareCli([...args, "--out", join(out, "..")]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /error: --out .*holds files the kit did not write/);
  const bad = await compareCli(["--methods", "int4"]);
  assert.match(bad.stderr, /--methods: unknown method 'int4'/);
  const noText = await compareCli(["--text", "/nonexistent/x.txt", "--out", join(out, "y")]);
  assert.match(noText.stderr, /--text \/nonexistent\/x\.txt: cannot read it/);
  const short = await compareCli(["--window", "100000", "--out", join(out, "z")]);
  assert.match(short.stderr, /need at least 200001/);
});
