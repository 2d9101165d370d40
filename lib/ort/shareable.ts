/**
 * A rewrite that lets sessions share their weights: `MatMul(x, Transpose(W))` over an
 * initializer `W` becomes `FusedMatMul(x, W, transB=1)` (onnxruntime's contrib op, the same
 * product). Left as it was, onnxruntime folds `Transpose(W)` into a new initializer of its own
 * in every session, which no other session can share; after the rewrite the kernels read `W`
 * itself, so one copy of `W` (given with `AddInitializer`) and one prepacked form serve all
 * sessions.
 */
import onnxProto from "onnx-proto";

const onnx = onnxProto.onnx;
type ModelProto = onnxProto.onnx.IModelProto;
type NodeProto = onnxProto.onnx.INodeProto;

function isSwapPerm(n: NodeProto): boolean {
  const perm = n.attribute?.find((a) => a.name === "perm")?.ints?.map(Number);
  return perm !== undefined && perm.length === 2 && perm[0] === 1 && perm[1] === 0;
}

/**
 * Rewrites `model`'s main graph in place; returns how many MatMuls now read their weight
 * directly.
 *
 * @example
 * ```ts
 * const m = onnx.ModelProto.decode(bytes);
 * fuseWeightTransposes(m); // e.g. 97 for mamba-130m's decode graph
 * ```
 */
export function fuseWeightTransposes(model: ModelProto): number {
  const g = model.graph;
  if (!g?.node) return 0;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const uses = new Map<string, number>();
  for (const n of g.node) for (const i of n.input ?? []) uses.set(i, (uses.get(i) ?? 0) + 1);
  for (const o of g.output ?? []) uses.set(o.name!, (uses.get(o.name!) ?? 0) + 1);
  const transposeOf = new Map<string, NodeProto>();
  for (const n of g.node) {
    if (n.opType === "Transpose" && !n.domain && inits.has(n.input?.[0]) && isSwapPerm(n)) {
      transposeOf.set(n.output![0], n);
    }
  }
  const dropped = new Set<NodeProto>();
  let count = 0;
  for (const n of g.node) {
    if (n.opType !== "MatMul" || n.domain || n.input?.length !== 2) continue;
    const t = transposeOf.get(n.input[1]);
    if (!t) continue;
    n.opType = "FusedMatMul";
    n.domain = "com.microsoft";
    n.attribute = [
      onnx.AttributeProto.create({
        name: "transB",
        type: onnx.AttributeProto.AttributeType.INT,
        i: 1,
      }),
    ];
    const transposed = n.input[1];
    n.input[1] = t.input![0];
    const left = uses.get(transposed)! - 1;
    uses.set(transposed, left);
    if (left === 0) dropped.add(t);
    count++;
  }
  if (count === 0) return 0;
  g.node = g.node.filter((n) => !dropped.has(n));
  model.opsetImport ??= [];
  if (!model.opsetImport.some((o) => o.domain === "com.microsoft")) {
    model.opsetImport.push({ domain: "com.microsoft", version: 1 });
  }
  return count;
}
