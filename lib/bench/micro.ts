/**
 * Small graphs of the model's building blocks for micro-benchmarks (bench/*_bench.ts): one
 * projection in float32 and in int8 forms, the selective scan of one layer, the ONNX Hadamard.
 * Each is written to a temporary folder and opened as an onnxruntime session.
 */
import { join } from "node:path";
import { bytesOf, Graph } from "../onnx/builder.ts";
import { hadamardOnnx } from "../onnx/hadamard_op.ts";
import { writeModelFolder } from "../onnx/save.ts";
import { quantizeBlocks } from "../quant/head8.ts";
import { quantizeWith, scaleOf } from "../quant/int8.ts";
import { createSession, type Session, type SessionOptions, Tensor } from "../runtime.ts";
import { kitTempDir } from "../temp.ts";

/** Forms of a projection y = x W (W [k, n]). */
export type ProjectionKind =
  | "fp32" // MatMul
  | "w8a8" // static Q/DQ on x and int8 W: fused by onnxruntime (MatMulIntegerToFloat / QLinearMatMul)
  | "nbits8" // MatMulNBits, 8-bit weights, float activations (accuracy level 1)
  | "nbits8-a8" // MatMulNBits, 8-bit weights, int8 activations per block (accuracy level 4)
  | "dynamic"; // DynamicQuantizeLinear on x, MatMulInteger (fused to DynamicQuantizeMatMul)

/** Seeded values in [-0.5, 0.5) * scale. */
export function seeded(n: number, seed = 1, scale = 0.04): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32 - 0.5) * scale;
  }
  return x;
}

/** x [m, k] @ W [k, n] in one of the forms. */
export function projectionGraph(kind: ProjectionKind, k: number, n: number): Graph {
  const g = new Graph(`projection_${kind}`);
  const x = g.input("x", "float32", ["m", k]);
  const w = seeded(k * n); // [k, n]
  const zp = g.const("int8", [0], []);
  let y: string;
  if (kind === "fp32") {
    y = g.op("MatMul", [x, g.init("W", "float32", [k, n], () => bytesOf(w))]);
  } else if (kind === "w8a8") {
    const ws = scaleOf(0.02), xs = g.scalar("float32", 0.01);
    g.init("W.int8", "int8", [k, n], () => bytesOf(quantizeWith(w, ws)));
    const wdq = g.op("DequantizeLinear", ["W.int8", g.scalar("float32", ws), zp]);
    const xq = g.op("DequantizeLinear", [g.op("QuantizeLinear", [x, xs, zp]), xs, zp]);
    y = g.op("MatMul", [xq, wdq]);
  } else if (kind === "dynamic") {
    const ws = scaleOf(0.02);
    g.init("W.int8", "int8", [k, n], () => bytesOf(quantizeWith(w, ws)));
    const [xq, xs, xzp] = g.opN("DynamicQuantizeLinear", [x], {}, { outputs: 3 });
    const acc = g.op("MatMulInteger", [xq, "W.int8", xzp, zp]);
    y = g.op("Mul", [g.op("Cast", [acc], { to: 1 }), g.op("Mul", [xs, g.scalar("float32", ws)])]);
  } else {
    // MatMulNBits wants W as [n, k] rows
    const wt = new Float32Array(k * n);
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) wt[j * k + i] = w[i * n + j];
    const { codes, scales } = quantizeBlocks(wt, n, k);
    g.init("W.q8", "uint8", [n, k / 32, 32], () => codes);
    g.init("W.q8_scales", "float32", [n, k / 32], () => bytesOf(scales));
    y = g.op("MatMulNBits", [x, "W.q8", "W.q8_scales"], {
      K: k,
      N: n,
      bits: 8,
      block_size: 32,
      accuracy_level: kind === "nbits8" ? 1 : 4,
    }, { domain: "com.microsoft" });
  }
  g.output(y, "float32", ["m", n], "y");
  return g;
}

/** Formulations of the selective scan: see `scanGraph`. */
export type ScanVariant = "step" | "step-shaped" | "precomputed" | "state-only";

/**
 * One layer's selective scan, inputs dt, dtu [1, l, e], B, C [1, l, n], h [1, e, n]:
 * - `step`: lib/arch/mamba/graph.ts's Scan body (discretizes inside each step: 12 kernels a step);
 * - `step-shaped`: the same arithmetic, with dt, dtu, B and C reshaped before the Scan so that
 *   the body needs no Unsqueeze or Squeeze (7 kernels a step);
 * - `precomputed`: dA = exp(dt A) and dBu = (dt u) B for all steps by batched operators before
 *   the Scan, whose body is h = dA_t h + dBu_t and y_t = h C_t;
 * - `state-only`: as `precomputed`, but the body only updates h (2 kernels) and emits every h;
 *   y = Σ_n h C is one batched MatMul after the Scan.
 */
export function scanGraph(e: number, n: number, variant: ScanVariant = "step"): Graph {
  const g = new Graph("scan");
  const h0 = g.input("h", "float32", [1, e, n]);
  const dt = g.input("dt", "float32", [1, "l", e]);
  const dtu = g.input("dtu", "float32", [1, "l", e]);
  const B = g.input("B", "float32", [1, "l", n]);
  const C = g.input("C", "float32", [1, "l", n]);
  const A = g.init("A", "float32", [e, n], () => {
    const a = new Float32Array(e * n);
    for (let i = 0; i < a.length; i++) a[i] = -(1 + (i % n));
    return bytesOf(a);
  });
  const s = new Graph("step", "s_");
  const ax = (gr: Graph, a: number) => gr.const("int64", [a]);
  const hs = s.input("h_in", "float32");
  let hN: string, y: string | undefined, inputs: string[];
  if (variant === "step") {
    const dts = s.input("dt_t", "float32"), dtus = s.input("dtu_t", "float32");
    const Bs = s.input("B_t", "float32"), Cs = s.input("C_t", "float32");
    const dA = s.op("Exp", [s.op("Mul", [s.op("Unsqueeze", [dts, ax(s, 2)]), A])]);
    const dBu = s.op("Mul", [
      s.op("Unsqueeze", [dtus, ax(s, 2)]),
      s.op("Unsqueeze", [Bs, ax(s, 1)]),
    ]);
    hN = s.op("Add", [s.op("Mul", [dA, hs]), dBu]);
    y = s.op("Squeeze", [s.op("MatMul", [hN, s.op("Unsqueeze", [Cs, ax(s, 2)])]), ax(s, 2)]);
    inputs = [h0, dt, dtu, B, C];
  } else if (variant === "step-shaped") {
    const dts = s.input("dt_t", "float32"), dtus = s.input("dtu_t", "float32"); // [1, e, 1]
    const Bs = s.input("B_t", "float32"), Cs = s.input("C_t", "float32"); // [1, 1, n], [1, n, 1]
    const dA = s.op("Exp", [s.op("Mul", [dts, A])]);
    hN = s.op("Add", [s.op("Mul", [dA, hs]), s.op("Mul", [dtus, Bs])]);
    y = s.op("MatMul", [hN, Cs]); // [1, e, 1]
    inputs = [
      h0,
      g.op("Unsqueeze", [dt, ax(g, 3)]),
      g.op("Unsqueeze", [dtu, ax(g, 3)]),
      g.op("Unsqueeze", [B, ax(g, 2)]),
      g.op("Unsqueeze", [C, ax(g, 3)]),
    ];
  } else {
    // [1, l, e, n]
    const dA = g.op("Exp", [g.op("Mul", [g.op("Unsqueeze", [dt, ax(g, 3)]), A])]);
    const dBu = g.op("Mul", [g.op("Unsqueeze", [dtu, ax(g, 3)]), g.op("Unsqueeze", [B, ax(g, 2)])]);
    const dAs = s.input("dA_t", "float32"), dBus = s.input("dBu_t", "float32");
    hN = s.op("Add", [s.op("Mul", [dAs, hs]), dBus]);
    inputs = [h0, dA, dBu];
    if (variant === "precomputed") {
      const Cs = s.input("C_t", "float32");
      y = s.op("Squeeze", [s.op("MatMul", [hN, s.op("Unsqueeze", [Cs, ax(s, 2)])]), ax(s, 2)]);
      inputs.push(C);
    }
  }
  s.output(hN, "float32", undefined, "h_out");
  if (y) s.output(y, "float32", undefined, "y_t");
  else s.output(s.op("Identity", [hN]), "float32", undefined, "h_t");
  const [hl, ys] = g.opN("Scan", inputs, {
    body: s,
    num_scan_inputs: inputs.length - 1,
    scan_input_axes: inputs.slice(1).map(() => 1),
    scan_output_axes: [1],
  }, { outputs: 2 });
  g.output(hl, "float32", [1, e, n], "h_last");
  // state-only: ys are the states [1, l, e, n]; y = hs @ C[..., None]
  const yAll = variant === "state-only"
    ? g.op("Squeeze", [g.op("MatMul", [ys, g.op("Unsqueeze", [C, ax(g, 3)])]), ax(g, 3)])
    : variant === "step-shaped"
    ? g.op("Squeeze", [ys, ax(g, 3)])
    : ys;
  g.output(yAll, "float32", [1, "l", e], "ys");
  return g;
}

/** H_n on the last axis of x [m, n] (lib/onnx/hadamard_op.ts). */
export function hadamardGraph(n: number): Graph {
  const g = new Graph("hadamard");
  const x = g.input("x", "float32", ["m", n]);
  g.output(hadamardOnnx(g, x, n, 2), "float32", ["m", n], "y");
  return g;
}

/** Writes `g` to a temporary folder, opens it, and removes the folder (the session keeps
 * what it loaded). */
export async function openGraph(
  g: Graph,
  options: SessionOptions = {},
): Promise<{ session: Session; dispose: () => Promise<void> }> {
  const dir = await kitTempDir("micro");
  try {
    await writeModelFolder(join(dir, "m"), { "model.onnx": g });
    const session = await createSession(join(dir, "m", "model.onnx"), "cpu", options);
    return { session, dispose: () => session.release() };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A float32 tensor of seeded values. */
export function tensor(dims: number[], seed = 2, scale = 1): Tensor {
  return new Tensor("float32", seeded(dims.reduce((a, b) => a * b, 1), seed, scale), dims);
}
