/**
 * The LLM.int8 emulation (lib/quant/llm_int8.ts) against plain computations, and the comparison
 * of block schemes on the tiny Jamba (lib/quant/block_schemes.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { compareBlockSchemes } from "../lib/quant/block_schemes.ts";
import { llmInt8Linear, rowInt8 } from "../lib/quant/llm_int8.ts";
import { rng } from "./helpers/tiny.ts";

const R = rng(11);
const rows = 7, cols = 13;
const W = Float32Array.from({ length: rows * cols }, () => R());
const x = Float64Array.from({ length: cols }, (_, c) => (c === 3 ? 9.5 : c === 8 ? -7 : 2 * R()));

/** W_dq x with W_dq the per-row int8 weight, and x as given. */
function withDequantized(xx: Float64Array): Float64Array {
  const w = rowInt8(W, rows, cols);
  return Float64Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w.q[r * cols + c] * w.scale[r] * xx[c];
    return s;
  });
}

Deno.test("LLM.int8 emulation: weights per row, outlier columns in float, the rest int8 per token", () => {
  const w = rowInt8(W, rows, cols);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(W[r * cols + c]));
    assert.ok(Math.abs(w.scale[r] - amax / 127) < 1e-12);
    assert.ok(w.q.subarray(r * cols, (r + 1) * cols).some((q) => Math.abs(q) === 127));
  }
  // threshold 0: every column is an outlier, so y = W_dq x exactly
  const all = llmInt8Linear(w, x, 0), exact = withDequantized(x);
  all.forEach((y, r) => assert.ok(Math.abs(y - exact[r]) < 1e-12));
  // default threshold 6: columns 3 and 8 stay float, the others are quantized per token by
  // absmax over them (the largest inlier |x_c| is exactly representable: 127 · scale)
  const y = llmInt8Linear(w, x);
  let amax = 0;
  for (let c = 0; c < cols; c++) if (c !== 3 && c !== 8) amax = Math.max(amax, Math.abs(x[c]));
  const xq = x.map((v, c) => c === 3 || c === 8 ? v : Math.round(v / (amax / 127)) * (amax / 127));
  const want = withDequantized(xq);
  y.forEach((v, r) => assert.ok(Math.abs(v - want[r]) < 1e-9, `row ${r}: ${v} vs ${want[r]}`));
  // and the int8 path is an approximation: close to, not equal to, the exact product
  const diff = Math.max(...y.map((v, r) => Math.abs(v - exact[r])));
  assert.ok(diff > 0 && diff < 0.05 * Math.max(...exact.map(Math.abs)), `int8 error ${diff}`);
});

Deno.test("block schemes on the tiny Jamba: every scheme measured against the float model", async () => {
  const dir = new URL("./fixtures/jamba_tiny", import.meta.url).pathname;
  const ids = JSON.parse(await Deno.readTextFile(join(dir, "reference.json"))).heldout.ids
    .slice(0, 96);
  const rows = await compareBlockSchemes(dir, { ids, samples: 6, maxLen: 256 });
  assert.deepEqual(rows.map((r) => r.scheme), [
    "quamba",
    "quamba + LLM.int8",
    "quamba-mamba-only",
    "w8a8",
  ]);
  for (const r of rows) {
    assert.ok(r.relErr > 1e-3 && r.relErr < 1, `${r.scheme} relErr ${r.relErr}`);
    assert.ok(r.meanKl > 0 && r.meanKl < 0.2, `${r.scheme} KL ${r.meanKl}`);
    assert.ok(Math.abs(r.nllDelta) < 0.2 && r.top1 > 0.7, JSON.stringify(r));
  }
  // float blocks are closer to the float model than static W8A8 ones (5× in KL, measured)
  const by = Object.fromEntries(rows.map((r) => [r.scheme, r]));
  assert.ok(by["quamba-mamba-only"].meanKl < by["quamba"].meanKl);
});
