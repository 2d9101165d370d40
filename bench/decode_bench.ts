/**
 * One decode step of the mamba-130m shape (seeded random weights; graphs built once into the
 * benchmark cache, as `deno task bench` does): fp32, quamba, quamba-head8.
 */
import { benchCacheDir, ensureBenchGraphs } from "../lib/bench/graphs.ts";
import { openBenchModel } from "../lib/bench/open.ts";
import { shapeConfig, syntheticWeights } from "../lib/synthetic.ts";

const size = "mamba-130m", cfg = shapeConfig(size);
for (const method of ["fp32", "quamba", "quamba-head8"]) {
  const dir = benchCacheDir(size, method);
  await ensureBenchGraphs(dir, cfg, syntheticWeights(cfg), method, size);
  const model = await openBenchModel(dir, { config: cfg, source: size, method }, "cpu");
  const { state } = await model.prefill([[1, 2, 3, 4]]);
  Deno.bench({
    name: `${size} decode step: ${method}`,
    group: "decode",
    baseline: method === "fp32",
    async fn() {
      await model.decode([5], state);
    },
  });
}
