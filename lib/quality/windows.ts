/**
 * Held-out text as scoring windows: non-overlapping runs of `window` tokens, each scored from a
 * fresh state, with the token after each position as its target.
 */
import { KitError } from "../errors.ts";

/** The windows of a token stream. */
export interface Windows {
  /** Input ids of each window (`window` tokens). */
  inputs: number[][];
  /** The token that follows each input position (the next window's first token at the end). */
  targets: number[][];
  window: number;
}

/**
 * Cuts `ids` into at most `floor(tokens / window)` windows of `window` tokens (and needs one
 * token more, the last target).
 *
 * @example
 * ```ts
 * const w = scoringWindows(ids, { tokens: 8192, window: 256 }); // 32 windows
 * ```
 */
export function scoringWindows(
  ids: number[],
  options: { tokens: number; window: number },
): Windows {
  const { tokens, window } = options;
  if (!(Number.isInteger(window) && window >= 1)) {
    throw new KitError(`window must be a positive integer, got ${window}`);
  }
  const count = Math.min(Math.floor(tokens / window), Math.floor((ids.length - 1) / window));
  if (count < 2) {
    throw new KitError(
      `held-out text: ${ids.length} tokens give ${count} windows of ${window} tokens; ` +
        `need at least 2 (and ${2 * window + 1} tokens) for an interval`,
    );
  }
  const inputs: number[][] = [], targets: number[][] = [];
  for (let w = 0; w < count; w++) {
    inputs.push(ids.slice(w * window, (w + 1) * window));
    targets.push(ids.slice(w * window + 1, (w + 1) * window + 1));
  }
  return { inputs, targets, window };
}

/**
 * Position buckets [from, to) of a window: 0, 1, 2–3, 4–7, ... (powers of two), the last ending
 * at `window`.
 *
 * @example
 * ```ts
 * positionBuckets(8); // [[0, 1], [1, 2], [2, 4], [4, 8]]
 * ```
 */
export function positionBuckets(window: number): [number, number][] {
  const out: [number, number][] = [[0, 1]];
  for (let a = 1; a < window; a *= 2) out.push([a, Math.min(2 * a, window)]);
  return out;
}
