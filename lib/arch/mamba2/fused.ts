/**
 * Mamba-2's SSM as one of onnxruntime's `LinearAttention` (com.microsoft, update rule "gated"),
 * for `scan: "fused"`: per head the state S [n, p] follows S_t = exp(g_t) S_{t-1} + k_t ⊗ v_t and
 * o_t = q_tᵀ S_t, which is SSD with key = B and query = C (one head per group: g key and query
 * heads shared by the h state heads, as Mamba-2's groups), value = dt·x [h p], and the decay
 * g = dt·A one per head. The kit's state is [b, h, p, n] (mamba_ssm's layout); the operator's
 * is [b, h, n, p]: transposed in and out. Dimensions: lib/arch/mamba2/config.ts.
 */
import type { GraphBuilder } from "../../onnx/layers.ts";

/**
 * The SSM over l tokens from the past state: dt [b, l, h], x [b, l, h, p], B, C [b, l, g n] (as
 * the conv emits them), A [h] -> [state after the last token [b, h, p, n], y [b, l, h, p]]
 * (C·h, without D x).
 */
export function fusedSsd(
  B: GraphBuilder,
  v: { pastSsm: string; dt: string; x: string; B: string; C: string; A: string },
  dims: { h: number; p: number; g: number },
): [string, string] {
  const g = B.g, { h, p } = dims;
  const i64 = (a: number[]) => g.const("int64", a);
  const value = g.op("Reshape", [
    g.op("Mul", [g.op("Unsqueeze", [v.dt, i64([3])]), v.x]),
    i64([0, 0, h * p]),
  ]); // [b, l, h p]
  const decay = g.op("Mul", [v.dt, v.A]); // [b, l, h]
  const past = g.op("Transpose", [v.pastSsm], { perm: [0, 1, 3, 2] }); // [b, h, n, p]
  const [y, state] = g.opN("LinearAttention", [v.C, v.B, value, past, decay], {
    q_num_heads: dims.g,
    kv_num_heads: h,
    update_rule: "gated",
    scale: { f: 1 },
  }, { domain: "com.microsoft", outputs: 2 }); // [b, l, h p], [b, h, n, p]
  return [
    g.op("Transpose", [state], { perm: [0, 1, 3, 2] }),
    g.op("Reshape", [y, i64([0, 0, h, p])]),
  ];
}
