/**
 * GPTQ and round-to-nearest (lib/quant/gptq.ts) against independent checks: RTN's rounding
 * bound, GPTQ with an identity H equal to RTN, GPTQ equal to a plain float64 implementation of
 * the optimal-brain-surgeon update (each step inverting the remaining H by Gauss–Jordan), block
 * sizes that do not change the result, and GPTQ's output error below RTN's on correlated inputs.
 */
import assert from "node:assert/strict";
import {
  dequantize,
  quantizeGptq,
  quantizeRtn,
  upperCholeskyOfInverse,
} from "../lib/quant/gptq.ts";
import { rng } from "./helpers/tiny.ts";

/** X [N, inp] with correlated channels and uneven scales, W [out, inp], H = Xᵀ X. */
function problem(N: number, out: number, inp: number, seed: number) {
  const r = rng(seed);
  const M = Float64Array.from({ length: inp * inp }, () => r());
  const X = new Float64Array(N * inp);
  for (let t = 0; t < N; t++) {
    const z = Array.from({ length: inp }, () => r());
    for (let j = 0; j < inp; j++) {
      let s = 0;
      for (let k = 0; k < inp; k++) s += z[k] * M[k * inp + j];
      X[t * inp + j] = s * (1 + 3 * (j % 5 === 0 ? 1 : 0));
    }
  }
  const W = Float64Array.from({ length: out * inp }, () => r());
  const H = new Float64Array(inp * inp);
  for (let t = 0; t < N; t++) {
    for (let i = 0; i < inp; i++) {
      for (let j = 0; j < inp; j++) H[i * inp + j] += X[t * inp + i] * X[t * inp + j];
    }
  }
  return { X, W, H };
}

/** ‖X (W - Ŵ)ᵀ‖²_F */
function outputError(
  X: Float64Array,
  W: Float64Array,
  Wq: Float32Array,
  N: number,
  out: number,
  inp: number,
) {
  let e = 0;
  for (let t = 0; t < N; t++) {
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < inp; i++) s += X[t * inp + i] * (W[o * inp + i] - Wq[o * inp + i]);
      e += s * s;
    }
  }
  return e;
}

/** The inverse of a small SPD matrix by Gauss–Jordan. */
function inverse(A: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(A), inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    const p = a[c * n + c];
    for (let j = 0; j < n; j++) {
      a[c * n + j] /= p;
      inv[c * n + j] /= p;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c];
      for (let j = 0; j < n; j++) {
        a[r * n + j] -= f * a[c * n + j];
        inv[r * n + j] -= f * inv[c * n + j];
      }
    }
  }
  return inv;
}

/** GPTQ written as the OBS update: quantize column i, spread its error with inv(H[i:, i:]). */
function obsReference(W0: Float64Array, out: number, inp: number, H0: Float64Array, group: number) {
  const W = Float64Array.from(W0), H = Float64Array.from(H0);
  let mean = 0;
  for (let i = 0; i < inp; i++) mean += H[i * inp + i] / inp;
  for (let i = 0; i < inp; i++) H[i * inp + i] += 0.01 * mean;
  const maxq = 15, deq = new Float32Array(out * inp);
  const grid = new Float64Array(out * 2);
  for (let i = 0; i < inp; i++) {
    const m = inp - i;
    const sub = new Float64Array(m * m);
    for (let a = 0; a < m; a++) {
      for (let b = 0; b < m; b++) sub[a * m + b] = H[(i + a) * inp + i + b];
    }
    const Hi = inverse(sub, m);
    for (let o = 0; o < out; o++) {
      if (i % group === 0) {
        let lo = 0, hi = 0;
        for (let j = i; j < Math.min(inp, i + group); j++) {
          lo = Math.min(lo, W[o * inp + j]);
          hi = Math.max(hi, W[o * inp + j]);
        }
        const s = (hi - lo) / maxq;
        grid[o * 2] = s;
        grid[o * 2 + 1] = Math.round(-lo / s);
      }
      const [s, z] = [grid[o * 2], grid[o * 2 + 1]];
      const w = W[o * inp + i];
      const q = Math.min(Math.max(Math.round(w / s) + z, 0), maxq);
      deq[o * inp + i] = (q - z) * s;
      const e = (w - (q - z) * s) / Hi[0];
      for (let j = i + 1; j < inp; j++) W[o * inp + j] -= e * Hi[j - i];
    }
  }
  return deq;
}

Deno.test("rtn: codes in range, every weight within half a step of its value", () => {
  const { W } = problem(4, 6, 40, 1);
  for (const symmetric of [false, true]) {
    const q = quantizeRtn(W, 6, 40, { bits: 4, group: 16, symmetric });
    const d = dequantize(q);
    assert.equal(q.scales.length, 6 * 3);
    for (let o = 0; o < 6; o++) {
      for (let i = 0; i < 40; i++) {
        const s = q.scales[o * 3 + Math.floor(i / 16)];
        assert.ok(q.codes[o * 40 + i] <= 15);
        assert.ok(Math.abs(d[o * 40 + i] - W[o * 40 + i]) <= s / 2 + 1e-6, `${o},${i}`);
      }
    }
    if (symmetric) assert.ok(q.zeros.every((z) => z === 8));
  }
});

Deno.test("gptq: H = I gives round-to-nearest; the Cholesky factor inverts H", () => {
  const inp = 24, { W, H } = problem(64, 5, inp, 2);
  const I = new Float64Array(inp * inp);
  for (let i = 0; i < inp; i++) I[i * inp + i] = 1;
  assert.deepEqual(
    quantizeGptq(W, 5, inp, I, { group: 8 }).codes,
    quantizeRtn(W, 5, inp, { group: 8 }).codes,
  );
  const U = upperCholeskyOfInverse(H, inp);
  for (let i = 0; i < inp; i++) {
    for (let j = 0; j < inp; j++) {
      // (Uᵀ U) H = I
      let s = 0;
      for (let k = 0; k < inp; k++) {
        let inv = 0;
        for (let m = 0; m < inp; m++) inv += U[m * inp + i] * U[m * inp + k];
        s += inv * H[k * inp + j];
      }
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-8, `(${i}, ${j}): ${s}`);
    }
  }
});

Deno.test("gptq: equals the plain OBS update, for any block size", () => {
  const out = 4, inp = 20, { W, H } = problem(50, out, inp, 3);
  const want = obsReference(W, out, inp, H, 8);
  for (const block of [3, 8, 128]) {
    const got = dequantize(quantizeGptq(W, out, inp, H, { group: 8, block }));
    for (let k = 0; k < got.length; k++) {
      assert.ok(
        Math.abs(got[k] - want[k]) < 1e-5,
        `block ${block}, weight ${k}: ${got[k]} vs ${want[k]}`,
      );
    }
  }
});

Deno.test("gptq: output error well below round-to-nearest's on correlated inputs", () => {
  const N = 256, out = 16, inp = 48, { X, W, H } = problem(N, out, inp, 4);
  const rtn = outputError(X, W, dequantize(quantizeRtn(W, out, inp, { group: 16 })), N, out, inp);
  const gptq = outputError(
    X,
    W,
    dequantize(quantizeGptq(W, out, inp, H, { group: 16 })),
    N,
    out,
    inp,
  );
  assert.ok(gptq < 0.8 * rtn, `GPTQ ${gptq.toExponential(3)} vs RTN ${rtn.toExponential(3)}`);
});
