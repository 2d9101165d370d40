/**
 * Loglikelihood requests and lm-eval's rules for turning text into tokens
 * (`HFLM.loglikelihood` and `_encode_pair`).
 */
import { KitError } from "../errors.ts";
import type { Tokenizer } from "../tokenizer.ts";
import { pyRstrip } from "./pystr.ts";

/** One scoring request: how likely is `continuation` after `context`? */
export interface Request {
  context: string;
  continuation: string;
}

/** The same request as tokens; the model is scored on `continuation`. */
export interface TokenRequest {
  context: number[];
  continuation: number[];
}

/** Sum of the continuation's log-probabilities, and whether each of its tokens is the argmax. */
export interface LoglikelihoodResult {
  logprob: number;
  isGreedy: boolean;
}

/**
 * Tokens of a request under lm-eval's rules: an empty context becomes `[prefixId]` and the
 * continuation is encoded alone; otherwise the context's trailing whitespace (Python's
 * `rstrip`) moves to the front of the continuation, `context + continuation` is encoded as a
 * whole, and the continuation tokens are the tail of it after the context's own encoding.
 *
 * @example
 * ```ts
 * const t = encodeRequest(tok, { context: "Hello ", continuation: "world" }, tok.eosId!);
 * // t.context = encode("Hello"), t.continuation = encode("Hello world").slice(t.context.length)
 * ```
 */
export function encodeRequest(tokenizer: Tokenizer, req: Request, prefixId: number): TokenRequest {
  if (req.context === "") {
    return { context: [prefixId], continuation: tokenizer.encode(req.continuation) };
  }
  const context = pyRstrip(req.context);
  const continuation = req.context.slice(context.length) + req.continuation;
  const whole = tokenizer.encode(context + continuation);
  const ctx = tokenizer.encode(context);
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

/** lm-eval's prefix token (`<|endoftext|>` for GPT-NeoX): the tokenizer's end-of-text id. */
export function prefixTokenId(tokenizer: Tokenizer): number {
  if (tokenizer.eosId === undefined) {
    throw new KitError(
      "tokenizer has no end-of-text token, needed as the prefix of empty contexts",
    );
  }
  return tokenizer.eosId;
}
