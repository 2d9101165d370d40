import assert from "node:assert/strict";
import { latencyTable, measureLatency } from "../lib/notebook/latency_demo.ts";
import { runMethodGrid } from "../lib/notebook/method_grid.ts";
import { loadModel } from "../lib/model.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { methodsAccuracyPlot, methodsLatencyPlot } from "../lib/plots/methods.ts";
import { svgToPng } from "../lib/plots/png.ts";
import { accuracyRows } from "../lib/reproduce/tables.ts";

const cacheDir = await Deno.makeTempDir({ prefix: "quamba-cache-" });
const quiet = { progress: false };

Deno.test({
  name: "method grid: methods × tasks on the embedded model, read by accuracyRows; the figure",
  sanitizeResources: false,
  async fn() {
    const methods = ["fp32", "w8a8"];
    const cells = await runMethodGrid({
      methods,
      tasks: ["piqa", "quamba_wikitext2"],
      limit: { piqa: 4, quamba_wikitext2: 1 },
      samples: 2,
      maxLen: 64,
      bootstrapIters: 10,
      cacheDir,
      ...quiet,
    });
    assert.deepEqual(cells.map((c) => c.cell.id), [
      "fp32--piqa",
      "fp32--quamba_wikitext2",
      "w8a8--piqa",
      "w8a8--quamba_wikitext2",
    ]);
    assert.equal(cells[0].result.nEffective, 4);
    const rows = accuracyRows(cells, methods);
    assert.deepEqual(rows.map((r) => r.method), methods);
    assert.equal(typeof rows[1]["PIQA acc"], "number");
    const ppl = rows.map((r) => r["WikiText-2 ppl (Quamba, token)"] as number);
    assert.ok(ppl.every((p) => p > 1 && Number.isFinite(p)));
    const svg = methodsAccuracyPlot(cells, methods);
    assert.match(svg, /PIQA acc \(n=4\)/);
    assert.match(svg, /change against fp32/);
    assert.doesNotMatch(svg, /NaN/);
    svgToPng(svg, { scale: 1 });
    await assert.rejects(
      runMethodGrid({ methods: ["int3"], tasks: ["piqa"], ...quiet }),
      /unknown method 'int3'/,
    );
    await assert.rejects(
      runMethodGrid({ methods: ["fp32"], tasks: ["nope"], ...quiet }),
      /unknown task 'nope'/,
    );
  },
});

Deno.test({
  name: "latency: TTFT and TPOT of a model; the table and its figure",
  sanitizeResources: false,
  async fn() {
    const model = await loadModel(EMBEDDED_MODEL, { cacheDir });
    try {
      const l = await measureLatency(model, { prompt: 8, gen: 2, warmup: 0, repeats: 2 });
      assert.equal(l.ttft.n, 2);
      assert.ok(l.ttft.median > 0 && l.tpot.median > 0 && l.tpot.p90 >= l.tpot.median);
    } finally {
      await model.close();
    }
    const rows = await latencyTable([{ model: EMBEDDED_MODEL, methods: ["fp32"] }], {
      prompt: 8,
      gen: 2,
      warmup: 0,
      repeats: 1,
      cacheDir,
      ...quiet,
    });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].model, "embedded");
    assert.equal(rows[0].prompt, 8);
    const svg = methodsLatencyPlot([
      ...rows,
      { ...rows[0], method: "quamba", "TTFT ms": rows[0]["TTFT ms"] / 2 },
    ]);
    assert.match(svg, /TTFT: time to first token/);
    assert.match(svg, /\(2×\)/);
    svgToPng(svg, { scale: 1 });
  },
});

Deno.test("cleanup", async () => {
  await Deno.remove(cacheDir, { recursive: true });
});
