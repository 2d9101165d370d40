/**
 * Orthonormal Hadamard transforms for every d_inner of the Mamba family, without n×n matrices.
 *
 * For n = K · 2^m the transform is H_n = (H_K ⊗ S_{2^m}) / √n, where S is Sylvester's Hadamard
 * matrix and H_K a Hadamard matrix of order K built by Paley's constructions (12, 20, 28, 36,
 * 44, 60, 68, 72, 84, ...) and Sylvester doubling. A row vector x [n] is viewed as X [K, 2^m] (row-major), and
 *   H_n x  =  (H_K X S^T) / √n,
 * done as two small matrix products (K×K and, split further, Sylvester factors) or a fast
 * Walsh–Hadamard transform. Rotating then un-rotating (H_nᵀ H_n = I) changes nothing.
 */
import { KitError } from "./errors.ts";

/** Legendre symbol (a/p) for an odd prime p: 1, -1 or 0. */
function legendre(a: number, p: number): number {
  a = ((a % p) + p) % p;
  if (a === 0) return 0;
  let r = 1, b = a, e = (p - 1) / 2;
  while (e > 0) {
    if (e & 1) r = (r * b) % p;
    b = (b * b) % p;
    e >>= 1;
  }
  return r === 1 ? 1 : -1;
}

function isPrime(p: number): boolean {
  if (p < 2) return false;
  for (let i = 2; i * i <= p; i++) if (p % i === 0) return false;
  return true;
}

/** Row-major ±1 matrix of order K with H Hᵀ = K I (unnormalised), or undefined if unknown. */
export function hadamardBase(K: number): Int8Array | undefined {
  if (K === 1) return Int8Array.of(1);
  if (K === 2) return Int8Array.of(1, 1, 1, -1);
  // Paley I: q prime, q ≡ 3 (mod 4), K = q + 1.  H = I + S, S = [[0, 1ᵀ], [-1, Q]]
  const q1 = K - 1;
  if (isPrime(q1) && q1 % 4 === 3) {
    const H = new Int8Array(K * K);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        let s: number;
        if (i === 0) s = j === 0 ? 0 : 1;
        else if (j === 0) s = -1;
        else s = legendre(j - i, q1);
        H[i * K + j] = s + (i === j ? 1 : 0);
      }
    }
    return H;
  }
  // Paley II: q prime, q ≡ 1 (mod 4), K = 2(q + 1). S = [[0, 1ᵀ], [1, Q]] (symmetric),
  // H = S ⊗ [[1, -1], [-1, -1]] + I ⊗ [[1, 1], [1, -1]]
  const q2 = K / 2 - 1;
  if (Number.isInteger(q2) && isPrime(q2) && q2 % 4 === 1) {
    const m = q2 + 1;
    const S = (i: number, j: number) =>
      i === 0 ? (j === 0 ? 0 : 1) : j === 0 ? 1 : legendre(j - i, q2);
    const A = [[1, -1], [-1, -1]], B = [[1, 1], [1, -1]];
    const H = new Int8Array(K * K);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        for (let a = 0; a < 2; a++) {
          for (let b = 0; b < 2; b++) {
            H[(2 * i + a) * K + 2 * j + b] = S(i, j) * A[a][b] + (i === j ? B[a][b] : 0);
          }
        }
      }
    }
    return H;
  }
  // K = 2K': Sylvester doubling of a smaller base
  if (K % 2 === 0) {
    const h = hadamardBase(K / 2);
    if (!h) return undefined;
    const k = K / 2, H = new Int8Array(K * K);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        const v = h[i * k + j];
        H[i * K + j] = v;
        H[i * K + j + k] = v;
        H[(i + k) * K + j] = v;
        H[(i + k) * K + j + k] = -v;
      }
    }
    return H;
  }
  return undefined;
}

/** How a size is factored: n = K · 2^m with H_K known. */
export interface HadamardPlan {
  n: number;
  /** Order of the non-power-of-two factor (1 when n is a power of two). */
  K: number;
  /** 2^m */
  pow2: number;
  /** H_K as ±1 entries, row-major [K, K]. */
  base: Int8Array;
}

/**
 * Plans the orthonormal Hadamard transform of size n; a clear error where none is known.
 *
 * @example
 * ```ts
 * hadamardPlan(1536); // { K: 12, pow2: 128, ... }
 * ```
 */
export function hadamardPlan(n: number): HadamardPlan {
  if (!Number.isInteger(n) || n < 1) {
    throw new KitError(`Hadamard size must be a positive integer, got ${n}`);
  }
  const cached = plans.get(n);
  if (cached) return cached;
  let K = n;
  while (K % 2 === 0) K /= 2;
  // K is the odd part; take the smallest base order b = K·2^j dividing n that we can build
  // (K = 1: Sylvester alone; 1536 = 12·128; 5120 = 20·256, i.e. an order-40 base H_20 ⊗ H_2)
  for (let b = K; b <= n; b *= 2) {
    if (K > 1 && b < 12) continue;
    const rest = n / b;
    const base = hadamardBase(b);
    if (base && isHadamard(base, b)) {
      const plan = { n, K: b, pow2: rest, base };
      plans.set(n, plan);
      return plan;
    }
  }
  throw new KitError(
    `no Hadamard matrix of size ${n} = ${K} · 2^${Math.log2(n / K)}: the kit builds orders ` +
      `b · 2^m where b is 1, 2, or q + 1 (q prime ≡ 3 mod 4) or 2(q + 1) (q prime ≡ 1 mod 4), ` +
      `e.g. 12, 20, 28, 36, 44, 60; none divides ${n} with a power-of-two quotient`,
  );
}

const plans = new Map<number, HadamardPlan>();

/** Whether H Hᵀ = K I for a ±1 matrix of order K. */
export function isHadamard(H: Int8Array, K: number): boolean {
  for (let i = 0; i < K; i++) {
    for (let j = i; j < K; j++) {
      let s = 0;
      for (let c = 0; c < K; c++) s += H[i * K + c] * H[j * K + c];
      if (s !== (i === j ? K : 0)) return false;
    }
  }
  return true;
}

/** In-place fast Walsh–Hadamard transform (Sylvester order, unnormalised) of `len` values at `off`. */
function fwht(x: Float64Array, off: number, len: number): void {
  for (let h = 1; h < len; h <<= 1) {
    for (let i = 0; i < len; i += h << 1) {
      for (let j = i; j < i + h; j++) {
        const a = x[off + j], b = x[off + j + h];
        x[off + j] = a + b;
        x[off + j + h] = a - b;
      }
    }
  }
}

/**
 * Applies H_n (orthonormal) to every row of `x` ([rows, n] row-major), in float64; `transpose`
 * applies H_nᵀ (the inverse). Returns a new array.
 *
 * @example
 * ```ts
 * const y = hadamardRows(Float32Array.from([1, 0, 0, 0]), 4); // [0.5, 0.5, 0.5, 0.5]
 * ```
 */
export function hadamardRows(
  x: Float32Array,
  n: number,
  options: { transpose?: boolean } = {},
): Float32Array {
  const plan = hadamardPlan(n);
  const { K, pow2, base } = plan;
  const rows = x.length / n;
  if (!Number.isInteger(rows)) {
    throw new KitError(`hadamardRows: ${x.length} values are not rows of ${n}`);
  }
  const out = new Float32Array(x.length);
  const X = new Float64Array(n), Y = new Float64Array(n);
  const scale = 1 / Math.sqrt(n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) X[i] = x[r * n + i];
    // Sylvester factor on each row of X [K, pow2] (symmetric: S = Sᵀ)
    for (let k = 0; k < K; k++) fwht(X, k * pow2, pow2);
    // H_K (or H_Kᵀ) on the K axis
    for (let a = 0; a < K; a++) {
      for (let j = 0; j < pow2; j++) {
        let s = 0;
        for (let b = 0; b < K; b++) {
          s += (options.transpose ? base[b * K + a] : base[a * K + b]) * X[b * pow2 + j];
        }
        Y[a * pow2 + j] = s;
      }
    }
    for (let i = 0; i < n; i++) out[r * n + i] = Y[i] * scale;
  }
  return out;
}

/** The dense orthonormal H_n (for tests and small n only). */
export function hadamardMatrix(n: number): Float64Array {
  const eye = new Float32Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  // rows of H_n · e_iᵀ... hadamardRows maps row vectors x -> H x; applied to e_i gives column i
  const cols = hadamardRows(eye, n);
  const H = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[j * n + i] = cols[i * n + j];
  return H;
}
