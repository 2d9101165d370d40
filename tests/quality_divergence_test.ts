/**
 * lib/quality/divergence.ts against closed forms and a plain float64 computation: log-softmax,
 * KL(p ‖ q), top-1 agreement and the NLL change, on hand-made distributions.
 */
import assert from "node:assert/strict";
import { argmaxOf, compareLogits, klFromLog, logSoftmax } from "../lib/quality/divergence.ts";
import { mulberry32 } from "../lib/random.ts";

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

/** Logits whose softmax is exactly `p` (up to float32 rounding of log p). */
const logitsOf = (p: number[]) => Float32Array.from(p, Math.log);

/** KL the plain way: probabilities by exp / sum in float64, then Σ p ln(p / q). */
function plainKl(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const prob = (z: ArrayLike<number>) => {
    const e = Array.from(z, (v) => Math.exp(v));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  const p = prob(x), q = prob(y);
  return p.reduce((a, pi, i) => a + (pi > 0 ? pi * Math.log(pi / q[i]) : 0), 0);
}

Deno.test("logSoftmax: closed form, shift invariance, no overflow", () => {
  const lp = logSoftmax(Float64Array.of(0, Math.log(2), Math.log(3)), 0, 3);
  [1 / 6, 2 / 6, 3 / 6].forEach((p, i) => close(lp[i], Math.log(p), 1e-15, `log p${i}`));
  const big = logSoftmax(Float64Array.of(1e4, 1e4 - Math.LN2, -1e4), 0, 3);
  close(Math.exp(big[0]), 2 / 3, 1e-12, "large logits");
  assert.ok(big.every(Number.isFinite));
  // offset: the second row of a [2, 3] array
  const rows = Float32Array.of(9, 9, 9, 0, 0, 0);
  logSoftmax(rows, 3, 3).forEach((v) => close(v, -Math.log(3), 1e-15, "uniform row"));
});

Deno.test("KL: KL(p ‖ p) = 0 exactly; Bernoulli and uniform closed forms", () => {
  const x = Float32Array.of(0.3, -2, 5, 1.25);
  const c = compareLogits(x, Float32Array.from(x), 4, [2]);
  assert.equal(c.kl[0], 0);
  assert.equal(c.nllDelta[0], 0);
  assert.equal(c.top1[0], 1);
  // Bernoulli: KL(Ber(a) ‖ Ber(b)) = a ln(a/b) + (1-a) ln((1-a)/(1-b))
  for (const [a, b] of [[0.5, 0.25], [0.9, 0.1], [0.01, 0.02], [0.3, 0.3]]) {
    const want = a * Math.log(a / b) + (1 - a) * Math.log((1 - a) / (1 - b));
    const got = klFromLog(
      logSoftmax(Float64Array.of(Math.log(a), Math.log(1 - a)), 0, 2),
      logSoftmax(Float64Array.of(Math.log(b), Math.log(1 - b)), 0, 2),
    );
    close(got, want, 1e-15, `Ber(${a}) ‖ Ber(${b})`);
  }
  // KL(p ‖ uniform over n) = ln n − H(p)
  const p = [0.5, 0.25, 0.125, 0.125];
  const H = -p.reduce((s, v) => s + v * Math.log(v), 0);
  const got = compareLogits(logitsOf(p), new Float32Array(4), 4, [0]).kl[0];
  close(got, Math.log(4) - H, 1e-7, "KL to uniform"); // log p rounded to float32
  // a zero-probability token of p contributes nothing (exp(-inf) = 0)
  const lp = Float64Array.of(0, -Infinity), lq = Float64Array.of(-Math.LN2, -Math.LN2);
  assert.equal(klFromLog(lp, lq), Math.LN2);
});

Deno.test("KL against a plain float64 computation on random logits", () => {
  const r = mulberry32(5), V = 257, rows = 20;
  const a = Float32Array.from({ length: rows * V }, () => 8 * (r() - 0.5));
  const b = Float32Array.from(a, (v) => v + 0.3 * (r() - 0.5));
  const targets = Array.from({ length: rows }, () => Math.floor(r() * V));
  const c = compareLogits(a, b, V, targets);
  for (let i = 0; i < rows; i++) {
    const x = a.subarray(i * V, (i + 1) * V), y = b.subarray(i * V, (i + 1) * V);
    close(c.kl[i], plainKl(x, y), 1e-13, `row ${i}`);
    assert.ok(c.kl[i] > 0);
    // NLL of the target under each: -log softmax
    const nll = (z: Float32Array) =>
      -Math.log(Math.exp(z[targets[i]]) / Array.from(z).reduce((s, v) => s + Math.exp(v), 0));
    close(c.nllRef[i], nll(x), 1e-12, `nll ref ${i}`);
    close(c.nllDelta[i], nll(y) - nll(x), 1e-12, `nll delta ${i}`);
  }
});

Deno.test("top-1 agreement counted by hand, ties to the first index", () => {
  const V = 3;
  const ref = Float32Array.of(1, 5, 2, /**/ 0, 0, 0, /**/ 3, 1, 3, /**/ 9, 8, 7);
  const oth = Float32Array.of(1, 6, 2, /**/ 0, 1, 0, /**/ 3, 1, 2, /**/ 7, 8, 9);
  // argmax: ref [1, 0, 0, 0], other [1, 1, 0, 2] → agree, disagree, agree, disagree
  assert.deepEqual(Array.from(compareLogits(ref, oth, V, [0, 0, 0, 0]).top1), [1, 0, 1, 0]);
  assert.equal(argmaxOf(Float32Array.of(2, 2, 1), 0, 3), 0);
  assert.throws(() => compareLogits(ref, oth, V, [0, 0]), /targets/);
});
