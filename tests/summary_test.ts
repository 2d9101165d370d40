import assert from "node:assert/strict";
import { tableFromArrays } from "apache-arrow";
import { KitError } from "../lib/errors.ts";
import { OUTLIER_STATISTICS, scalarSummary } from "../lib/stats/summary.ts";
import { syntheticStats } from "./helpers/synthetic_stats.ts";

Deno.test("summary: one row per (layer, tensor), a column per statistic, values as in the table", () => {
  const { scalars } = syntheticStats({ layers: 3, hidden: 16, samples: 2, sampleLen: 32 });
  const rows = scalarSummary(scalars);
  assert.deepEqual(
    rows.map((r) => `${r.layer}/${r.tensor}`),
    ["0/u", "0/y", "0/y_had", "1/u", "1/y", "1/y_had", "2/u", "2/y", "2/y_had"],
  );
  for (const r of rows) {
    assert.deepEqual(Object.keys(r), ["layer", "tensor", ...OUTLIER_STATISTICS]);
  }
  // every value is the one of the long table (direct lookup)
  const long = scalars.toArray().map((r) => r.toJSON());
  for (const r of rows) {
    for (const s of OUTLIER_STATISTICS) {
      const want = long.find((x) =>
        x.layer === r.layer && x.tensor === r.tensor && x.statistic === s
      );
      assert.equal(r[s], want!.value, `${r.layer}/${r.tensor} ${s}`);
    }
  }
  // the story the synthetic tables are built to tell
  for (const layer of [0, 1, 2]) {
    const [u, y, yh] = rows.filter((r) => r.layer === layer);
    assert.ok((u.absmax as number) > (u["p99.999"] as number), "u: rare extreme values");
    assert.ok((yh.kurtosis as number) < (y.kurtosis as number), "y_had flatter than y");
  }
});

Deno.test("summary: chosen tensors, statistics and layers, in the order asked for", () => {
  const { scalars } = syntheticStats({ layers: 3, hidden: 16, samples: 2, sampleLen: 32 });
  const rows = scalarSummary(scalars, {
    tensors: ["y_had", "x"],
    statistics: ["kurtosis", "absmax"],
    layers: [2],
  });
  assert.deepEqual(rows.map((r) => r.tensor), ["y_had", "x"]);
  assert.deepEqual(Object.keys(rows[0]), ["layer", "tensor", "kurtosis", "absmax"]);
  assert.ok(rows.every((r) => r.layer === 2));
});

Deno.test("summary: int64 layers (other writers), and clear errors for what is not there", () => {
  const t = tableFromArrays({
    layer: BigInt64Array.from([0n, 0n, 1n]),
    tensor: ["u", "u", "u"],
    statistic: ["absmax", "kurtosis", "absmax"],
    value: Float64Array.from([5, 3.5, 6]),
  });
  assert.deepEqual(scalarSummary(t, { tensors: ["u"], statistics: ["absmax", "kurtosis"] }), [
    { layer: 0, tensor: "u", absmax: 5, kurtosis: 3.5 },
    { layer: 1, tensor: "u", absmax: 6 },
  ]);
  assert.throws(
    () => scalarSummary(t),
    (e) => e instanceof KitError && /no rows for tensor 'y' \(tensors: u\)/.test(e.message),
  );
  assert.throws(
    () => scalarSummary(t, { tensors: ["u"], statistics: ["p99"] }),
    /no rows for statistic 'p99' \(statistics: absmax, kurtosis\)/,
  );
  assert.throws(
    () => scalarSummary(tableFromArrays({ layer: Int32Array.from([0]) })),
    /missing column 'tensor' \(columns: layer\)/,
  );
});
