/**
 * report.html: built by writeReport from a synthetic reproduction folder (two models, cells and
 * statistics), then opened from a file:// URL in headless Chromium: no errors, no network,
 * every figure drawn, the tables there, the selectors and tooltips working.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { modelStats, plotVersion, scriptJson } from "../lib/report_html/mod.ts";
import { plotBundle } from "../lib/report_html/assets.ts";
import { htmlTable } from "../lib/report_html/html.ts";
import { writeReport } from "../lib/reproduce/report.ts";
import { Page } from "./helpers/chromium.ts";
import { writeSyntheticStats } from "./helpers/synthetic_stats.ts";
import { clusterDraws } from "../lib/quality/bootstrap.ts";
import { type Comparison, summarizeMethod } from "../lib/quality/compare.ts";
import { comparisonSummary } from "../lib/quality/report.ts";
import { scoringWindows } from "../lib/quality/windows.ts";
import { klDistributionPlot } from "../lib/plots/quality.ts";

/** A made-up comparison of w8a8 and quamba with fp32 (KL of w8a8 ten times quamba's). */
function madeUpComparison(seed: number): Comparison {
  const w = scoringWindows(Array.from({ length: 257 }, (_, i) => i), { tokens: 256, window: 64 });
  const draws = clusterDraws(4, { resamples: 100 });
  let x = seed;
  const r = () => (x = (x * 16807) % 2147483647) / 2147483647;
  const m = (name: string, s: number) =>
    summarizeMethod(
      name,
      {
        kl: Float64Array.from({ length: 256 }, () => s * r()),
        top1: Uint8Array.from({ length: 256 }, () => (r() < 0.9 ? 1 : 0)),
        nllDelta: Float64Array.from({ length: 256 }, () => s * (r() - 0.4)),
      },
      w,
      draws,
      0.95,
    );
  return {
    source: "m",
    text: "held_out.txt",
    reference: "fp32",
    tokens: 256,
    windows: 4,
    window: 64,
    bootstrap: { resamples: 100, seed: 1, level: 0.95, unit: "window" },
    referenceNll: { value: 4, lo: 3.9, hi: 4.1 },
    methods: [m("w8a8", 0.1), m("quamba", 0.01)],
  };
}

const MODELS = ["/models/mamba-a", "/models/mamba-b"];
const METHODS = ["fp32", "w8a8", "quamba"];
const TASKS = ["piqa", "winogrande", "quamba_wikitext2"];

/** A reproduction folder as `deno task reproduce` leaves it, with made-up results. */
async function fixture(): Promise<string> {
  const out = await Deno.makeTempDir({ prefix: "quamba-report-html-" });
  const config = {
    out,
    models: MODELS,
    methods: METHODS,
    tasks: TASKS,
    dataDir: "/data/tasks",
    limit: 20,
    calib: "/data/calib.txt",
    samples: 8,
    maxLen: 512,
    percentile: 99.999,
    ep: "cpu",
    latency: { prompt: 128, gen: 32, warmup: 2, repeats: 3 },
  };
  await Deno.writeTextFile(join(out, "config.json"), JSON.stringify(config));
  await Deno.writeTextFile(
    join(out, "environment.json"),
    JSON.stringify({ kit_version: "0.1.0", deno: Deno.version.deno, os: "linux x86_64" }),
  );
  await Deno.mkdir(join(out, "cells"));
  const cell = async (id: string, body: Record<string, unknown>) =>
    await Deno.writeTextFile(join(out, "cells", `${id}.json`), JSON.stringify(body));
  for (const [i, model] of MODELS.entries()) {
    const m = model.split("/").pop()!;
    const comparison = madeUpComparison(i + 1);
    await cell(`quality--${m}`, {
      cell: { kind: "quality", model, id: `quality--${m}` },
      comparison: comparisonSummary(comparison),
    });
    await Deno.mkdir(join(out, "figures", m), { recursive: true });
    await Deno.writeTextFile(
      join(out, "figures", m, "kl_distribution.svg"),
      klDistributionPlot(comparison),
    );
    await writeSyntheticStats(join(out, "stats", m), {
      layers: 3,
      hidden: 16 * (i + 1),
      samples: 2,
      sampleLen: 32,
      seed: i + 1,
    });
    for (const [j, method] of METHODS.entries()) {
      const metric = (name: string, value: number) => ({ [name]: { value, stderr: 0.05 } });
      await cell(`eval--${m}--${method}--piqa`, {
        cell: { kind: "eval", model, method, task: "piqa", id: `eval--${m}--${method}--piqa` },
        result: { metrics: metric("acc", 0.6 + 0.02 * j - 0.05 * i), nEffective: 20 },
      });
      await cell(`eval--${m}--${method}--winogrande`, {
        cell: { kind: "eval", model, method, task: "winogrande", id: "-" },
        result: { metrics: metric("acc", 0.52 - 0.01 * j) },
      });
      await cell(`eval--${m}--${method}--quamba_wikitext2`, {
        cell: { kind: "eval", model, method, task: "quamba_wikitext2", id: "-" },
        result: { metrics: metric("token_perplexity", 20 + j + 5 * i) },
      });
      const ms = (median: number) => ({ median, p90: median * 1.2 });
      await cell(`latency--${m}--${method}`, {
        cell: { kind: "latency", model, method, id: `latency--${m}--${method}` },
        ms: { ttft: ms(10 + j + i), tpot: ms(0.5 - 0.1 * j), ttlt: ms(30 - j + 10 * i) },
        prompt: 128,
        gen: 32,
        weights_mb: (method === "fp32" ? 10 : 5.5) * (i + 1),
        state_mb: 0.15,
      });
    }
  }
  return out;
}

Deno.test("report.html: data in a <script> cannot close it; table cells are escaped", () => {
  assert.equal(scriptJson({ s: "</script><!--" }), '{"s":"\\u003c/script>\\u003c!--"}');
  const html = htmlTable({ metadata: {}, rows: [{ method: "<b>", "PIQA acc": 0.51234 }] }, [
    { header: "PIQA acc", kind: "accuracy", note: 'say "acc"' },
  ], "t");
  assert.match(html, /<td>&lt;b&gt;<\/td><td class="num" title="0.51234">0.5123<\/td>/);
  assert.match(html, /<th title="say &quot;acc&quot;">PIQA acc<\/th>/);
});

Deno.test("report.html: the inlined Plot bundle is the version pinned in deno.json", async () => {
  const head = (await plotBundle()).slice(0, 200);
  assert.match(
    head,
    new RegExp(`@observablehq/plot ${(await plotVersion()).replace(/\./g, "\\.")} `),
  );
});

Deno.test("report.html: per-channel data is capped by layers, keeping the default one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quamba-report-stats-" });
  try {
    await writeSyntheticStats(dir, { layers: 6, hidden: 16, samples: 2, sampleLen: 32 });
    const all = await modelStats(dir, "m");
    assert.deepEqual(all.channelLayers, [0, 1, 2, 3, 4, 5]);
    // u, y, y_had of 32 channels each: 96 values a layer; room for 3 layers
    const few = await modelStats(dir, "m", 3 * 96);
    assert.equal(few.channelLayers.length, 3);
    assert.ok(few.channelLayers.includes(few.defaultLayer));
    assert.deepEqual(
      [...new Set(few.channels.map((c) => c.layer))].sort((a, b) => a - b),
      few.channelLayers,
    );
    assert.deepEqual([...new Set(few.scalars.map((r) => r.tensor))].sort(), ["u", "y", "y_had"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report.html: opens offline in headless Chromium with every figure drawn", async () => {
  const out = await fixture();
  let page: Page | undefined;
  try {
    page = await Page.launch({ width: 1200, height: 900 });
    await writeReport(out);
    await checkPage(page, join(out, "report.html"));
  } finally {
    await page?.close();
    await Deno.remove(out, { recursive: true });
  }
});

/** Opens report.html and checks what a reader would see and do. */
async function checkPage(page: Page, file: string) {
  const html = await Deno.readTextFile(file);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/, "no external scripts or styles");
  await page.goto(`file://${file}`);
  const state = () =>
    page.evaluate<{ id: string; rendered: string; svgs: number }[]>(
      `[...document.querySelectorAll("[data-figure]")].map((e) => ({
        id: e.id, rendered: e.dataset.rendered ?? "", svgs: e.querySelectorAll("svg").length }))`,
    );
  const figures = await state();
  assert.deepEqual(figures.map((f) => f.id), [
    "fig-accuracy",
    "fig-perplexity",
    "fig-latency-methods",
    "fig-latency-size",
    "fig-channels",
    "fig-clipping",
    "fig-hadamard",
  ]);
  for (const f of figures) {
    assert.equal(f.rendered, "true", `${f.id} not drawn`);
    assert.ok(f.svgs > 0, `${f.id} has no svg`);
  }
  const rows = await page.evaluate<number[]>(
    `["table-kl", "table-accuracy", "table-latency", "table-config", "table-environment"]
      .map((id) => document.querySelectorAll("#" + id + " tbody tr").length)`,
  );
  assert.deepEqual(rows, [4, 6, 6, 12, 3]);
  // the KL table comes before the accuracy table, every number with its interval
  const kl = await page.evaluate<{ before: boolean; cells: string[]; figures: number }>(
    `(() => { const k = document.getElementById("table-kl"), a = document.getElementById("table-accuracy");
      return { before: !!(k.compareDocumentPosition(a) & Node.DOCUMENT_POSITION_FOLLOWING),
        cells: [...k.querySelectorAll("tbody tr:first-child td")].map((t) => t.textContent),
        figures: document.querySelectorAll(".static-fig svg").length }; })()`,
  );
  assert.ok(kl.before, "KL table first");
  assert.equal(kl.figures, 2); // one kl_distribution figure per model
  assert.deepEqual(kl.cells.slice(0, 2), ["mamba-a", "w8a8"]);
  assert.match(kl.cells[2], /^[\d.e-]+ \[[\d.e-]+, [\d.e-]+\]$/);
  const accHead = await page.evaluate<string[]>(
    `[...document.querySelectorAll("#table-accuracy th")].map((t) => t.textContent)`,
  );
  assert.ok(accHead.includes("PIQA acc ±") && accHead.includes("PIQA acc n"), accHead.join());
  const notes = await page.evaluate<string>(
    `[...document.querySelectorAll("#table-accuracy th")].find((t) => t.textContent === "PIQA acc").title`,
  );
  assert.match(notes, /PIQA.*metric acc/);

  // the tooltip: hover the first bar of the accuracy figure
  const at = await page.evaluate<{ x: number; y: number }>(
    `(() => { const r = document.querySelector("#fig-accuracy g[aria-label='bar'] rect");
      r.scrollIntoView({ block: "center" });
      const b = r.getBoundingClientRect();
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 }; })()`,
  );
  for (const type of ["mouseMoved", "mouseMoved"]) {
    await page.send("Input.dispatchMouseEvent", { type, x: at.x, y: at.y + 1 });
  }
  const tip = await page.evaluate<string>(
    `new Promise((r) => setTimeout(() => r(document.querySelector(
      "#fig-accuracy [aria-label='tip']")?.textContent ?? ""), 200))`,
  );
  assert.match(tip, /method\s*fp32/, `tooltip: ${tip}`);

  // the selectors redraw the figures
  await page.evaluate(`(() => {
    const set = (id, v) => { const s = document.getElementById(id); s.value = v;
      s.dispatchEvent(new Event("change")); };
    set("model-select", "mamba-b"); set("layer-select", "0");
    set("lat-select", "TPOT ms"); })()`);
  const after = await state();
  assert.ok(after.every((f) => f.rendered === "true" && f.svgs > 0), JSON.stringify(after));
  assert.match(
    await page.evaluate<string>(`document.getElementById("stats-source").textContent`),
    /statistics of/,
  );

  const shot = await page.screenshot({ fullPage: true });
  assert.ok(shot.length > 50_000, "a screenshot with something on it");
  // to look at: REPORT_SCREENSHOT=shot.png (the page after the selectors changed), and
  // REPORT_HTML_COPY=report.html (the page itself)
  const keep = Deno.env.get("REPORT_SCREENSHOT");
  if (keep) await Deno.writeFile(keep, shot);
  const copy = Deno.env.get("REPORT_HTML_COPY");
  if (copy) await Deno.copyFile(file, copy);

  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.requests.filter((u) => !u.startsWith("file:")), [], "no network");
}
