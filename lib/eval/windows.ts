/**
 * Perplexity windows. Two definitions, kept apart on purpose:
 *
 * - lm-eval's `loglikelihood_rolling` (task `wikitext`): every token of a document is predicted
 *   once; the first window starts with the prefix token, later windows hold `maxLength` tokens
 *   and each starts from a fresh state with the token before it as context
 *   (`get_rolling_token_windows(context_len=1)` + `make_disjoint_window`).
 * - Quamba's (GPTQ-style) WikiText-2 token perplexity (task `quamba_wikitext2`): the whole text
 *   tokenized once, cut into non-overlapping `seqlen` windows (the remainder is dropped); each
 *   window predicts its tokens 2..seqlen from a fresh state.
 */
import { KitError } from "../errors.ts";
import type { TokenRequest } from "./requests.ts";

/**
 * lm-eval's rolling windows of `tokens` as disjoint requests: their continuations partition
 * `tokens` in order.
 *
 * @example
 * ```ts
 * rollingWindows([1, 2, 3, 4, 5], 0, 2);
 * // [{context: [0], continuation: [1, 2]}, {context: [2], continuation: [3, 4]},
 * //  {context: [3, 4], continuation: [5]}]
 * ```
 */
export function rollingWindows(
  tokens: number[],
  prefixToken: number,
  maxLength: number,
): TokenRequest[] {
  if (maxLength < 1) throw new KitError(`maximum length must be at least 1, got ${maxLength}`);
  const out: TokenRequest[] = [];
  if (tokens.length === 0) return out;
  const first = Math.min(maxLength, tokens.length);
  out.push(disjoint([prefixToken, ...tokens.slice(0, first - 1)], tokens.slice(0, first)));
  let predicted = first;
  while (predicted < tokens.length) {
    const predLen = Math.min(tokens.length - predicted, maxLength);
    const end = predicted + predLen;
    out.push(
      disjoint(
        tokens.slice(Math.max(0, end - maxLength - 1), end - 1),
        tokens.slice(end - predLen, end),
      ),
    );
    predicted += predLen;
  }
  return out;
}

/** make_disjoint_window: the context keeps what the continuation does not repeat. */
function disjoint(input: number[], pred: number[]): TokenRequest {
  return { context: input.slice(0, input.length - (pred.length - 1)), continuation: pred };
}

/**
 * Quamba's windows: `floor(tokens.length / seqlen)` consecutive windows of `seqlen` tokens;
 * each is a request predicting tokens 2..seqlen from the first.
 *
 * @example
 * ```ts
 * tokenWindows([1, 2, 3, 4, 5, 6, 7], 3); // [{context: [1], continuation: [2, 3]}, {context: [4], continuation: [5, 6]}]
 * ```
 */
export function tokenWindows(tokens: number[], seqlen: number): TokenRequest[] {
  if (seqlen < 2) throw new KitError(`window length must be at least 2, got ${seqlen}`);
  const out: TokenRequest[] = [];
  for (let s = 0; s + seqlen <= tokens.length; s += seqlen) {
    out.push({ context: [tokens[s]], continuation: tokens.slice(s + 1, s + seqlen) });
  }
  return out;
}
