/**
 * Per-token comparison of two next-token distributions given as logits, in float64: the
 * KL divergence KL(p ‖ q) from the reference p to the approximation q, whether both put their
 * largest logit on the same token, and the negative log-likelihood of the observed next token
 * under each.
 */

/**
 * log-softmax of `n` logits from `offset`, in float64 (the max is subtracted first, so no
 * exp overflows): `out[i] = x[i] - max - log Σ exp(x[j] - max)`.
 *
 * @example
 * ```ts
 * logSoftmax(Float32Array.of(0, 0), 0, 2); // [-ln 2, -ln 2]
 * ```
 */
export function logSoftmax(
  x: ArrayLike<number>,
  offset: number,
  n: number,
  out: Float64Array = new Float64Array(n),
): Float64Array {
  let mx = -Infinity;
  for (let i = 0; i < n; i++) if (x[offset + i] > mx) mx = x[offset + i];
  let z = 0;
  for (let i = 0; i < n; i++) z += Math.exp(x[offset + i] - mx);
  const lz = mx + Math.log(z);
  for (let i = 0; i < n; i++) out[i] = x[offset + i] - lz;
  return out;
}

/**
 * KL(p ‖ q) = Σ p_i (log p_i − log q_i) from two log-distributions (natural log, nats). Terms
 * with p_i = 0 contribute 0; identical inputs give exactly 0.
 *
 * @example
 * ```ts
 * klFromLog(Float64Array.of(Math.log(0.5), Math.log(0.5)), Float64Array.of(Math.log(0.25), Math.log(0.75)));
 * ```
 */
export function klFromLog(lp: Float64Array, lq: Float64Array): number {
  let s = 0;
  for (let i = 0; i < lp.length; i++) {
    const p = Math.exp(lp[i]);
    if (p > 0) s += p * (lp[i] - lq[i]);
  }
  return s;
}

/**
 * Index of the largest value (the first on ties, as torch.argmax).
 *
 * @example
 * ```ts
 * argmaxOf(Float32Array.of(1, 3, 3), 0, 3); // 1
 * ```
 */
export function argmaxOf(x: ArrayLike<number>, offset: number, n: number): number {
  let best = 0, bv = -Infinity;
  for (let i = 0; i < n; i++) {
    if (x[offset + i] > bv) {
      bv = x[offset + i];
      best = i;
    }
  }
  return best;
}

/** What comparing the distributions of a run of tokens gives, one entry per position. */
export interface TokenComparison {
  /** KL(reference ‖ other), nats */
  kl: Float64Array;
  /** 1 where both have the same top token, else 0 */
  top1: Uint8Array;
  /** NLL of the next token under the other model minus under the reference (nats) */
  nllDelta: Float64Array;
  /** NLL of the next token under the reference (nats) */
  nllRef: Float64Array;
}

/**
 * Compares two models' logits over the same `rows` positions (row-major [rows, vocab]):
 * KL(ref ‖ other), top-1 agreement, and the NLL of `targets[r]` (the token that followed
 * position r) under each.
 *
 * @example
 * ```ts
 * const c = compareLogits(await fp.logits(ids), await q.logits(ids), vocab, nextIds);
 * ```
 */
export function compareLogits(
  ref: Float32Array,
  other: Float32Array,
  vocab: number,
  targets: ArrayLike<number>,
): TokenComparison {
  const rows = targets.length;
  if (ref.length !== rows * vocab || other.length !== rows * vocab) {
    throw new Error(
      `compareLogits: ${rows} targets × ${vocab} vocab ≠ logits of ${ref.length} and ${other.length}`,
    );
  }
  const out: TokenComparison = {
    kl: new Float64Array(rows),
    top1: new Uint8Array(rows),
    nllDelta: new Float64Array(rows),
    nllRef: new Float64Array(rows),
  };
  const e = new Float64Array(vocab), row = new Float64Array(4);
  for (let r = 0; r < rows; r++) {
    compareRow(ref, other, r * vocab, vocab, targets[r], e, row);
    out.kl[r] = row[0];
    out.top1[r] = row[1];
    out.nllRef[r] = row[2];
    out.nllDelta[r] = row[3];
  }
  return out;
}

/**
 * One row of compareLogits, into `out` = [KL, top-1 agreement, NLL ref, NLL other − ref]. In
 * float64: p_i = exp(x_i − mx) / zx and log p_i − log q_i = (x_i − y_i) − c with
 * c = (mx + log zx) − (my + log zy): two exp per entry, and identical rows give exactly 0.
 * (A function of its own, so that the JIT optimizes it after a few rows.)
 */
function compareRow(
  x: Float32Array,
  y: Float32Array,
  o: number,
  n: number,
  t: number,
  e: Float64Array,
  out: Float64Array,
): void {
  let mx = -Infinity, my = -Infinity, ax = 0, ay = 0;
  for (let i = 0; i < n; i++) {
    const a = x[o + i], b = y[o + i];
    if (a > mx) {
      mx = a;
      ax = i;
    }
    if (b > my) {
      my = b;
      ay = i;
    }
  }
  let zx = 0, zy = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.exp(x[o + i] - mx);
    e[i] = v;
    zx += v;
    zy += Math.exp(y[o + i] - my);
  }
  const lzx = mx + Math.log(zx), lzy = my + Math.log(zy), c = lzx - lzy;
  let kl = 0;
  for (let i = 0; i < n; i++) if (e[i] > 0) kl += e[i] * ((x[o + i] - y[o + i]) - c);
  out[0] = kl / zx;
  out[1] = ax === ay ? 1 : 0;
  out[2] = lzx - x[o + t];
  out[3] = (lzy - y[o + t]) - (lzx - x[o + t]);
}
