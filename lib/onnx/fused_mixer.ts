/**
 * A Mamba mixer's conv and selective scan as two of onnxruntime's fused contrib operators
 * (`scan: "fused"`), for GPU EPs where every kernel launch costs:
 *
 * - `CausalConvWithState` (com.microsoft): the depthwise causal conv1d with its bias and SiLU,
 *   reading the past window [b, e, k-1] and writing the next one: one kernel instead of
 *   Concat, Slice, Conv (or Mul + ReduceSum in a decode step) and SiLU.
 * - `LinearAttention` (com.microsoft, update rule "gated"): the recurrence h_t = exp(g_t) h_{t-1}
 *   + k_t ⊗ v_t, o_t = q_t · h_t, which is Mamba-1's scan with one kv head per channel:
 *   kv heads = e, d_k = n (the state), d_v = 1, value = dt·u [b, l, e], decay g = dt ⊗ A
 *   [b, l, e·n] (one per key dimension), key = B [b, l, n] and query = C [b, l, n], each one head
 *   shared by every kv head, scale 1; its state [b, e, n, 1] is the SSM state.
 *
 * Both exist for the CPU, CUDA and WebGPU EPs of onnxruntime 1.29 and 1.30; on the CPU the Scan is
 * faster (the kit keeps it there).
 */
import type { GraphBuilder } from "./layers.ts";

const MS = { domain: "com.microsoft" };

/**
 * conv1d + bias + SiLU with state: x [b, e, l] -> u [b, e, l]; declares `present_conv.{layer}`.
 */
export function fusedConv(
  B: GraphBuilder,
  x: string,
  pastConv: string,
  weight: string,
  bias: string | undefined,
  layer: number,
): string {
  const [u] = B.g.opN("CausalConvWithState", [x, weight, bias ?? "", pastConv], {
    activation: "silu",
  }, { ...MS, outputs: [B.g.fresh("conv_silu"), `present_conv.${layer}`] });
  return u;
}

/**
 * The selective scan over l tokens from the past state: dt, dtu [b, l, e], Bm, Cm [b, l, n],
 * A [e, n] -> y [b, l, e] (C·h, without D·u); `present_ssm.{layer}` [b, e, n] is returned as the
 * name of the new state (the caller declares it an output).
 */
export function fusedScan(
  B: GraphBuilder,
  inputs: { pastSsm: string; dt: string; dtu: string; Bm: string; Cm: string; A: string },
  e: number,
  n: number,
  layer: number,
): { y: string; state: string } {
  const g = B.g;
  const decay = g.op("Reshape", [
    g.op("Mul", [B.unsqueeze(inputs.dt, 3), inputs.A]), // [b, l, e, n]
    g.const("int64", [0, 0, e * n]),
  ]); // [b, l, e·n]
  const [y, state] = g.opN("LinearAttention", [
    inputs.Cm,
    inputs.Bm,
    inputs.dtu,
    B.unsqueeze(inputs.pastSsm, 3), // [b, e, n, 1]
    decay,
  ], {
    q_num_heads: 1,
    kv_num_heads: e,
    update_rule: "gated",
    scale: { f: 1 },
  }, { ...MS, outputs: 2 }); // [b, l, e], [b, e, n, 1]
  const s = g.op("Squeeze", [state, g.const("int64", [3])], {}, {
    outputs: [`present_ssm.${layer}`],
  });
  return { y, state: s };
}
