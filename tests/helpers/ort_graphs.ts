/** Tiny ONNX graphs for the binding's tests, written to temporary folders. */
import { join } from "node:path";
import { type DType, Graph } from "../../lib/onnx/builder.ts";
import { writeModelFolder } from "../../lib/onnx/save.ts";

/** Writes `graphs` (file name → graph) into a fresh folder; returns the folder. */
export async function writeGraphs(graphs: Record<string, Graph>): Promise<string> {
  const dir = join(await Deno.makeTempDir({ prefix: "quamba-ort-" }), "m");
  await writeModelFolder(dir, graphs);
  return dir;
}

/** Writes one graph; returns its file. */
export async function writeGraph(g: Graph): Promise<string> {
  return join(await writeGraphs({ "model.onnx": g }), "model.onnx");
}

/** y = a + b over [n]. */
export function addGraph(type: DType = "float32"): Graph {
  const g = new Graph("add");
  const a = g.input("a", type, ["n"]), b = g.input("b", type, ["n"]);
  g.output(g.op("Add", [a, b]), type, ["n"], "y");
  return g;
}

/** y = x (any element type), dims [batch, 3]. */
export function identityGraph(type: DType): Graph {
  const g = new Graph("identity");
  const x = g.input("x", type, ["batch", 3]);
  g.output(g.op("Identity", [x]), type, ["batch", 3], "y");
  return g;
}

/** A seeded float32 array. */
export function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

/** y = x @ W^T + b (W [out, inp] stored as the graph's weight, `MatMul(x, Transpose(W))` as
 * the kit's graphs write projections), then s = state + y: a recurrence with a state in/out. */
export function linearStepGraph(w: Float32Array, bias: Float32Array, inp: number, out: number) {
  const g = new Graph("linear_step");
  const x = g.input("x", "float32", ["rows", inp]);
  const state = g.input("state", "float32", ["rows", out]);
  g.init("W", "float32", [out, inp], () => new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  g.init(
    "bias",
    "float32",
    [out],
    () => new Uint8Array(bias.buffer, bias.byteOffset, bias.byteLength),
  );
  const y = g.op("Add", [g.op("MatMul", [x, g.op("Transpose", ["W"], { perm: [1, 0] })]), "bias"]);
  g.output(y, "float32", ["rows", out], "y");
  g.output(g.op("Add", [state, y]), "float32", ["rows", out], "state_out");
  return g;
}

/** x @ W^T + bias in plain TypeScript (row-major). */
export function linear(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  inp: number,
  out: number,
) {
  const rows = x.length / inp, y = new Float32Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let acc = bias[o];
      for (let i = 0; i < inp; i++) acc += x[r * inp + i] * w[o * inp + i];
      y[r * out + o] = acc;
    }
  }
  return y;
}
