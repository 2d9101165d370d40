/**
 * Group-wise low-bit weight quantization of one linear layer: round-to-nearest (RTN), and GPTQ
 * (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
 * Transformers", Algorithm 1), which quantizes the input columns of W one by one and spreads
 * each column's rounding error over the columns not yet quantized, weighted by the inverse of
 * the input's second-moment matrix H = Σ x xᵀ, so that ‖X Wᵀ - X Ŵᵀ‖ (not ‖W - Ŵ‖) is small.
 *
 * Layout: W [out, in] row-major (a checkpoint's). Groups run along the input axis (`group`
 * consecutive input channels of one output row share a scale and a zero point), the layout of
 * onnxruntime's MatMulNBits (lib/quant/nbits4.ts). Codes are unsigned, q in [0, 2^bits - 1], and
 * dequantize to (q - zero) · scale. Everything is float64.
 */
import { KitError } from "../errors.ts";

/** A quantized weight: codes [out, in], scales and zero points [out, groups]. */
export interface GroupQuantized {
  out: number;
  inp: number;
  bits: number;
  group: number;
  codes: Uint8Array;
  scales: Float32Array;
  zeros: Uint8Array;
}

export interface GroupOptions {
  /** Bits per weight (2..8); default 4. */
  bits?: number;
  /** Input channels per group; default 128. */
  group?: number;
  /** Symmetric grids (zero point 2^(bits-1)) instead of min–max; default false (GPTQ's). */
  symmetric?: boolean;
}

export interface GptqOptions extends GroupOptions {
  /** Dampening added to H's diagonal, as a fraction of its mean; default 0.01 (GPTQ's). */
  damp?: number;
  /** Columns updated together before the lazy batch update; default 128. */
  block?: number;
}

/** The scale and zero point of w[from, to) (GPTQ's `Quantizer.find_params`). */
function gridOf(
  w: ArrayLike<number>,
  bits: number,
  symmetric: boolean,
  from = 0,
  to = w.length,
): [number, number] {
  const maxq = 2 ** bits - 1;
  let lo = 0, hi = 0;
  for (let i = from; i < to; i++) {
    lo = Math.min(lo, w[i]);
    hi = Math.max(hi, w[i]);
  }
  if (symmetric) {
    hi = Math.max(-lo, hi);
    lo = -hi;
  }
  if (lo === 0 && hi === 0) [lo, hi] = [-1, 1];
  const scale = (hi - lo) / maxq;
  const zero = symmetric ? (maxq + 1) / 2 : Math.round(-lo / scale);
  return [scale, zero];
}

const code = (w: number, scale: number, zero: number, maxq: number) =>
  Math.min(Math.max(Math.round(w / scale) + zero, 0), maxq);

function checkOptions(out: number, inp: number, W: ArrayLike<number>, o: GroupOptions) {
  const bits = o.bits ?? 4, group = o.group ?? 128;
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new KitError(`bits must be an integer in [2, 8], got ${bits}`);
  }
  if (!Number.isInteger(group) || group < 1) {
    throw new KitError(`group must be a positive integer, got ${group}`);
  }
  if (W.length !== out * inp) {
    throw new KitError(`weight has ${W.length} values, expected ${out} × ${inp}`);
  }
  return { bits, group, symmetric: o.symmetric ?? false, groups: Math.ceil(inp / group) };
}

/**
 * Round-to-nearest: each group's min–max grid, each weight rounded on it.
 *
 * @example
 * ```ts
 * const q = quantizeRtn(w, 64, 128, { bits: 4, group: 128 });
 * dequantize(q); // [64, 128], within half a step of w
 * ```
 */
export function quantizeRtn(
  W: ArrayLike<number>,
  out: number,
  inp: number,
  options: GroupOptions = {},
): GroupQuantized {
  const { bits, group, symmetric, groups } = checkOptions(out, inp, W, options);
  const maxq = 2 ** bits - 1;
  const codes = new Uint8Array(out * inp);
  const scales = new Float32Array(out * groups), zeros = new Uint8Array(out * groups);
  for (let o = 0; o < out; o++) {
    for (let gi = 0; gi < groups; gi++) {
      const a = gi * group, b = Math.min(inp, a + group);
      const [s, z] = gridOf(W, bits, symmetric, o * inp + a, o * inp + b);
      scales[o * groups + gi] = s;
      zeros[o * groups + gi] = z;
      for (let j = a; j < b; j++) codes[o * inp + j] = code(W[o * inp + j], s, z, maxq);
    }
  }
  return { out, inp, bits, group, codes, scales, zeros };
}

/**
 * GPTQ with H = Σ x xᵀ [in, in] (row-major) of the layer's inputs. Columns whose input was
 * always zero are set to zero; the dampened H is inverted by Cholesky, as the reference
 * implementation does; a group's grid is set when its first column comes up, from the weights
 * with every earlier column's error applied (with groups aligned to blocks, as GPTQ's default
 * 128/128, this is the reference implementation's choice; otherwise it keeps blocks from
 * changing the result).
 *
 * @example
 * ```ts
 * const q = quantizeGptq(w, out, inp, hessian, { bits: 4, group: 128 });
 * ```
 */
export function quantizeGptq(
  Win: ArrayLike<number>,
  out: number,
  inp: number,
  H: Float64Array,
  options: GptqOptions = {},
): GroupQuantized {
  const { bits, group, symmetric, groups } = checkOptions(out, inp, Win, options);
  if (H.length !== inp * inp) throw new KitError(`H has ${H.length} values, expected ${inp}²`);
  const maxq = 2 ** bits - 1, block = options.block ?? 128;
  const W = Float64Array.from(Win);
  const h = Float64Array.from(H);
  let meanDiag = 0;
  for (let i = 0; i < inp; i++) {
    if (h[i * inp + i] === 0) {
      h[i * inp + i] = 1;
      for (let o = 0; o < out; o++) W[o * inp + i] = 0;
    }
    meanDiag += h[i * inp + i] / inp;
  }
  const damp = (options.damp ?? 0.01) * meanDiag;
  for (let i = 0; i < inp; i++) h[i * inp + i] += damp;
  const U = upperCholeskyOfInverse(h, inp); // H⁻¹ = Uᵀ U
  const codes = new Uint8Array(out * inp);
  const scales = new Float32Array(out * groups), zeros = new Uint8Array(out * groups);
  const err = new Float64Array(out * block);
  for (let i1 = 0; i1 < inp; i1 += block) {
    const i2 = Math.min(inp, i1 + block);
    for (let i = i1; i < i2; i++) {
      if (i % group === 0) {
        const gi = i / group, b = Math.min(inp, i + group);
        for (let o = 0; o < out; o++) {
          // the group's weights with every error so far applied (those of this block's earlier
          // columns reach columns past the block only in the lazy update): blocks then do not
          // change the result
          const row = W.slice(o * inp + i, o * inp + b);
          for (let j = Math.max(i2, i); j < b; j++) {
            for (let k = i1; k < i; k++) row[j - i] -= err[o * block + (k - i1)] * U[k * inp + j];
          }
          const [s, z] = gridOf(row, bits, symmetric);
          scales[o * groups + gi] = s;
          zeros[o * groups + gi] = z;
        }
      }
      const gi = Math.floor(i / group), d = U[i * inp + i];
      for (let o = 0; o < out; o++) {
        const s = scales[o * groups + gi], z = zeros[o * groups + gi];
        const w = W[o * inp + i], q = code(w, s, z, maxq);
        codes[o * inp + i] = q;
        const e = (w - (q - z) * s) / d;
        err[o * block + (i - i1)] = e;
        for (let j = i + 1; j < i2; j++) W[o * inp + j] -= e * U[i * inp + j];
      }
    }
    // the lazy batch update of the columns after this block
    for (let o = 0; o < out; o++) {
      for (let i = i1; i < i2; i++) {
        const e = err[o * block + (i - i1)];
        if (e === 0) continue;
        for (let j = i2; j < inp; j++) W[o * inp + j] -= e * U[i * inp + j];
      }
    }
  }
  return { out, inp, bits, group, codes, scales, zeros };
}

/** W ≈ (q - zero) · scale, [out, in] row-major. */
export function dequantize(q: GroupQuantized): Float32Array {
  const groups = Math.ceil(q.inp / q.group), w = new Float32Array(q.out * q.inp);
  for (let o = 0; o < q.out; o++) {
    for (let i = 0; i < q.inp; i++) {
      const gi = o * groups + Math.floor(i / q.group);
      w[o * q.inp + i] = (q.codes[o * q.inp + i] - q.zeros[gi]) * q.scales[gi];
    }
  }
  return w;
}

/**
 * The upper Cholesky factor U of A⁻¹ (A⁻¹ = Uᵀ U) for a symmetric positive definite A [n, n]
 * (as torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(A)), upper=True)).
 */
export function upperCholeskyOfInverse(A: Float64Array, n: number): Float64Array {
  const L = cholesky(A, n);
  // A⁻¹ = L⁻ᵀ L⁻¹: invert the lower triangle, then form the product
  const Li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    Li[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += L[i * n + k] * Li[k * n + j];
      Li[i * n + j] = -s / L[i * n + i];
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += Li[k * n + i] * Li[k * n + j];
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  const Lc = cholesky(inv, n);
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) U[i * n + j] = Lc[j * n + i];
  return U;
}

/** The lower Cholesky factor of a symmetric positive definite A [n, n]. */
function cholesky(A: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let s = A[j * n + j];
    for (let k = 0; k < j; k++) s -= L[j * n + k] ** 2;
    if (!(s > 0)) throw new KitError(`Cholesky: the matrix is not positive definite (column ${j})`);
    const d = Math.sqrt(s);
    L[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let t = A[i * n + j];
      for (let k = 0; k < j; k++) t -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = t / d;
    }
  }
  return L;
}
