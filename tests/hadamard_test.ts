import assert from "node:assert/strict";
import { hadamardBase, hadamardPlan, hadamardRows, isHadamard } from "../lib/hadamard.ts";
import { assertClose } from "./helpers/assert.ts";
import { rng } from "./helpers/tiny.ts";

/** Dense kron(H_K, Sylvester_{2^m}) / √n, built directly from the definitions. */
function kronDefinition(n: number): Float64Array {
  const { K, pow2, base } = hadamardPlan(n);
  const syl = (i: number, j: number) => {
    let b = i & j, parity = 0;
    while (b) {
      parity ^= b & 1;
      b >>= 1;
    }
    return parity ? -1 : 1;
  };
  const H = new Float64Array(n * n), s = 1 / Math.sqrt(n);
  for (let a = 0; a < K; a++) {
    for (let b = 0; b < K; b++) {
      for (let i = 0; i < pow2; i++) {
        for (let j = 0; j < pow2; j++) {
          H[(a * pow2 + i) * n + b * pow2 + j] = base[a * K + b] * syl(i, j) * s;
        }
      }
    }
  }
  return H;
}

Deno.test("hadamard: every base order is a Hadamard matrix", () => {
  for (const K of [1, 2, 12, 20, 24, 28, 36, 40, 44, 60, 68, 76, 84, 108]) {
    const H = hadamardBase(K);
    assert.ok(H, `order ${K}`);
    assert.ok(isHadamard(H, K), `order ${K}: H Hᵀ ≠ K I`);
  }
});

Deno.test("hadamard: the Mamba family's sizes, orthonormal and equal to the Kronecker definition", () => {
  // d_inner of mamba-130m … 2.8b and the embedded model, plus small sizes of each kind
  for (const n of [8, 12, 24, 40, 80, 512, 1536]) {
    const H = kronDefinition(n);
    const r = rng(n);
    const x = Float32Array.from({ length: 3 * n }, () => r());
    const got = hadamardRows(x, n);
    const want = new Float64Array(3 * n);
    for (let row = 0; row < 3; row++) {
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += H[i * n + j] * x[row * n + j];
        want[row * n + i] = s;
      }
    }
    assertClose(got, want, 1e-6, `H x, n=${n}`);
    // orthonormal: H Hᵀ = I
    if (n <= 80) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let c = 0; c < n; c++) s += H[i * n + c] * H[j * n + c];
          assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-12, `n=${n} (${i},${j})`);
        }
      }
    }
  }
  for (const n of [1536, 2048, 3072, 4096, 5120]) {
    const p = hadamardPlan(n);
    assert.equal(p.K * p.pow2, n);
    const r = rng(1);
    const x = Float32Array.from({ length: 2 * n }, () => r());
    const y = hadamardRows(x, n);
    // norms are preserved, and rotating then un-rotating gives x back
    let nx = 0, ny = 0;
    for (let i = 0; i < n; i++) {
      nx += x[i] ** 2;
      ny += y[i] ** 2;
    }
    assert.ok(Math.abs(nx - ny) / nx < 1e-6, `norm, n=${n}`);
    assertClose(hadamardRows(y, n, { transpose: true }), x, 1e-6, `round trip n=${n}`);
  }
  assert.equal(hadamardPlan(1536).K, 12);
  assert.equal(hadamardPlan(3072).K, 12);
  assert.equal(hadamardPlan(5120).K, 20); // = (H_20 ⊗ H_2) ⊗ S_128, an order-40 base
});

Deno.test("hadamard: sizes with no known construction fail clearly", () => {
  assert.equal(hadamardPlan(7 * 64).K, 28);
  assert.equal(hadamardBase(92), undefined); // exists (Williamson) but not by these constructions
  assert.throws(() => hadamardPlan(23 * 8), /no Hadamard matrix of size 184 = 23 · 2\^3/);
  assert.throws(() => hadamardPlan(0), /positive integer/);
});
