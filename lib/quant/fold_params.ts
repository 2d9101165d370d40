/**
 * Folds the dequantization of int8 parameters that feed no int8 kernel (conv1d weight and bias,
 * A_log, D, dt_proj.bias) into float32 initializers holding exactly q · scale, as a rewrite of a
 * built graph. onnxruntime never constant-folds DequantizeLinear (it keeps them for its QDQ
 * fusions), so otherwise every decode step dequantizes them again and recomputes A = -exp(A_log)
 * from them: about 8 operators per layer and step. The values, and so the outputs, are the same;
 * the stored parameters take 4 bytes instead of 1 (a few hundred kB per model).
 */
import { bytesOf, type Graph } from "../onnx/builder.ts";

/**
 * Rewrites `g` in place: every DequantizeLinear of an int8 initializer with a scalar scale and
 * zero point 0, none of whose consumers is a MatMul, becomes a float32 initializer. Returns the
 * names of the parameters folded.
 *
 * @example
 * ```ts
 * const decode = buildDecode(cfg, src, opt, qdqHooks(cfg, src, plan));
 * foldParamDequant(decode); // ["backbone.layers.0.mixer.conv1d.weight", ...]
 * ```
 */
export function foldParamDequant(g: Graph): string[] {
  const folded: string[] = [];
  const consumers = (v: string) => g.nodes.filter((n) => n.input!.includes(v));
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.opType !== "DequantizeLinear") continue;
    const [q, s] = n.input!;
    const t = g.initializers.get(q);
    if (!t || t.dtype !== "int8" || g.initializers.get(s)?.dims.length !== 0) continue;
    const out = n.output![0];
    if (consumers(out).some((c) => c.opType === "MatMul")) continue;
    const name = `${q.replace(/\.int8$/, "")}.dequantized`;
    if (!g.initializers.has(name)) {
      const qData = t.data, sData = g.initializers.get(s)!.data;
      g.init(name, "float32", t.dims, async () => {
        const codes = new Int8Array((await qData()).slice().buffer);
        const scale = new Float32Array((await sData()).slice().buffer)[0];
        return bytesOf(Float32Array.from(codes, (c) => Math.fround(c * scale)));
      });
    }
    if (g.outputs.some((o) => o.name === out)) {
      throw new Error(`foldParamDequant: ${out} is a graph output`);
    }
    g.nodes.splice(i, 1);
    for (const c of consumers(out)) c.input = c.input!.map((x) => x === out ? name : x);
    folded.push(q.replace(/\.int8$/, ""));
  }
  // drop the codes and scales nothing reads any more
  for (const name of [...g.initializers.keys()]) {
    if (!g.nodes.some((n) => n.input!.includes(name)) && /\.(int8|scale)$/.test(name)) {
      g.initializers.delete(name);
    }
  }
  return folded.reverse();
}
