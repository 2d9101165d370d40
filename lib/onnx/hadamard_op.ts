/**
 * The orthonormal Hadamard transform H_n of lib/hadamard.ts as ONNX operators on the last axis:
 * n = K · p1 · p2 is viewed as [K, p1, p2] and transformed by three small MatMuls with
 * constants H_K/√K, S_p1/√p1 and S_p2/√p2 (Sylvester), never an n×n matrix.
 */
import { hadamardPlan } from "../hadamard.ts";
import type { Graph } from "./builder.ts";

/** Sylvester's Hadamard matrix of order p (a power of two), scaled by 1/√p. */
function sylvester(p: number): Float32Array {
  const out = new Float32Array(p * p), s = 1 / Math.sqrt(p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < p; j++) {
      let b = i & j, parity = 0;
      while (b) {
        parity ^= b & 1;
        b >>= 1;
      }
      out[i * p + j] = parity ? -s : s;
    }
  }
  return out;
}

/**
 * y = H_n x along the last axis of `x` (rank `rank`, last dim n); `transpose` applies H_nᵀ.
 *
 * @example
 * ```ts
 * const yRot = hadamardOnnx(g, y, 1536, 3); // [b, l, 1536] -> [b, l, 1536]
 * ```
 */
export function hadamardOnnx(
  g: Graph,
  x: string,
  n: number,
  rank: number,
  options: { transpose?: boolean } = {},
): string {
  const { K, pow2, base } = hadamardPlan(n);
  let p1 = 1;
  while (p1 * p1 < pow2) p1 *= 2;
  const p2 = pow2 / p1;
  const lead = Array(rank - 1).fill(0); // Reshape's 0 keeps a leading dimension
  const mat = (name: string, m: Float32Array, size: number) =>
    g.const("float32", m, [size, size], name);
  // [..., K, p1, p2]
  let y = g.op("Reshape", [x, g.const("int64", [...lead, K, p1, p2])]);
  if (p2 > 1) y = g.op("MatMul", [y, mat(`hadamard.S${p2}`, sylvester(p2), p2)]); // x S (S = Sᵀ)
  if (p1 > 1) y = g.op("MatMul", [mat(`hadamard.S${p1}`, sylvester(p1), p1), y]); // S on the p1 axis
  y = g.op("Reshape", [y, g.const("int64", [...lead, K, pow2])]);
  if (K > 1) {
    const hk = new Float32Array(K * K), s = 1 / Math.sqrt(K);
    for (let a = 0; a < K; a++) {
      for (let b = 0; b < K; b++) {
        hk[a * K + b] = (options.transpose ? base[b * K + a] : base[a * K + b]) * s;
      }
    }
    y = g.op("MatMul", [mat(`hadamard.H${K}${options.transpose ? "T" : ""}`, hk, K), y]);
  }
  return g.op("Reshape", [y, g.const("int64", [...lead, n])]);
}
