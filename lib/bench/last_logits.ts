/**
 * A prefill graph that computes the logits of the last position only ([b, 1, v]), which is all
 * that generation needs of a prompt (mamba_ssm's `num_last_tokens=1`): the lm_head then costs
 * one token's work instead of the prompt's. A rewrite of a built graph: a Slice on the lm_head's
 * input.
 */
import type { Graph } from "../onnx/builder.ts";

/**
 * Rewrites the prefill graph `g` in place.
 *
 * @example
 * ```ts
 * const prefill = buildPrefill(cfg, src, opt);
 * lastLogitsOnly(prefill);
 * ```
 */
export function lastLogitsOnly(g: Graph): void {
  const id = g.nodes.findIndex((n) => n.opType === "Identity" && n.output![0] === "logits");
  const headOut = id >= 0 ? g.nodes[id].input![0] : "logits";
  let hi = g.nodes.findIndex((n) => n.output!.includes(headOut));
  if (hi < 0) throw new Error(`lastLogitsOnly: ${g.name} has no lm_head`);
  // float16 compute: the lm_head's output is cast to float32
  if (g.nodes[hi].opType === "Cast") {
    const src = g.nodes[hi].input![0];
    hi = g.nodes.findIndex((n) => n.output!.includes(src));
  }
  const head = g.nodes[hi];
  if (!["MatMul", "MatMulNBits"].includes(head.opType!)) {
    throw new Error(`lastLogitsOnly: the logits come from ${head.opType}, not a MatMul`);
  }
  const n0 = g.nodes.length;
  const last = g.op("Slice", [
    head.input![0],
    g.const("int64", [-1]),
    g.const("int64", [2 ** 62]),
    g.const("int64", [1]),
  ]);
  const added = g.nodes.splice(n0);
  g.nodes.splice(hi, 0, ...added);
  head.input![0] = last;
}
