/** `loglikelihood`: lm-eval's `loglikelihood` requests on a kit model. */
import type { Model } from "../model.ts";
import {
  encodeRequest,
  type LoglikelihoodResult,
  prefixTokenId,
  type Request,
} from "./requests.ts";
import { type ScoreOptions, scoreTokens } from "./score.ts";

/**
 * Log-likelihood of each continuation given its context, with lm-evaluation-harness's rules:
 * trailing whitespace of the context moves to the continuation, the continuation's tokens are
 * the tail of the encoding of the whole text, an empty context becomes the prefix token
 * (`<|endoftext|>`), inputs are left-truncated to `maxLength` (2048), `logprob` is the sum over
 * the continuation's tokens and `isGreedy` is true when each of them is the argmax.
 * Requests sharing a context are batched (one prefill of the context).
 *
 * @example
 * ```ts
 * import { loadModel, loglikelihood } from "./mod.ts";
 * const model = await loadModel("data/models/embedded");
 * const [r] = await loglikelihood(model, [{ context: "The Time", continuation: " Traveller" }]);
 * console.log(r.logprob, r.isGreedy);
 * ```
 */
export async function loglikelihood(
  model: Model,
  requests: Request[],
  options: ScoreOptions = {},
): Promise<LoglikelihoodResult[]> {
  const prefix = prefixTokenId(model.tokenizer);
  const tokens = requests.map((r) => encodeRequest(model.tokenizer, r, prefix));
  const describe = options.describe ??
    ((i: number) =>
      `request ${i} (context ${JSON.stringify(clip(requests[i].context))}, continuation ${
        JSON.stringify(clip(requests[i].continuation))
      })`);
  return (await scoreTokens(model, tokens, { ...options, describe })).results;
}

function clip(s: string): string {
  return s.length > 40 ? `…${s.slice(-40)}` : s;
}
