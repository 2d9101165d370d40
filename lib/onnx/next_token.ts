/**
 * The greedy next token chosen inside a graph: an output `next_ids` [b] (int64), the argmax of
 * the last position's logits (the first on ties, as torch.argmax), so that a generation loop on
 * a GPU can feed it to the next decode step without the logits ever leaving the device. A
 * rewrite of a built prefill ([b, l, v] logits) or decode ([b, v]) graph.
 */
import type { Graph } from "./builder.ts";

/** The name of the added output. */
export const NEXT_IDS = "next_ids";

/**
 * Adds `next_ids` to `g` (in place); the logits stay an output.
 *
 * @example
 * ```ts
 * const decode = buildDecode(cfg, src, opt);
 * addNextToken(decode); // outputs: logits, next_ids, present_conv.{i}, present_ssm.{i}
 * ```
 */
export function addNextToken(g: Graph): void {
  const out = g.outputs.find((o) => o.name === "logits");
  if (!out) throw new Error(`addNextToken: ${g.name} has no logits output`);
  if (g.outputs.some((o) => o.name === NEXT_IDS)) return;
  const rank = out.type?.tensorType?.shape?.dim?.length;
  if (rank !== 2 && rank !== 3) throw new Error(`addNextToken: logits of rank ${rank}`);
  // [b, l, v] → the last position [b, v]
  const last = rank === 3
    ? g.op("Gather", ["logits", g.scalar("int64", -1)], { axis: 1 })
    : "logits";
  g.op("ArgMax", [last], { axis: -1, keepdims: 0, select_last_index: 0 }, { outputs: [NEXT_IDS] });
  g.output(NEXT_IDS, "int64", ["batch"]);
}
