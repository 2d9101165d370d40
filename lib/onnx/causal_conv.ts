/**
 * The depthwise causal conv1d with its window state and SiLU, as every Mamba mixer runs it
 * (Mamba-1 over x, Mamba-2 over x ‖ B ‖ C): `ch` channels, kernel `k`, the last k-1 inputs
 * carried between runs as `past_conv.{layer}` [b, ch, k-1] -> `present_conv.{layer}`.
 * Plain ONNX, or onnxruntime's fused CausalConvWithState (`scan: "fused"`).
 */
import { fusedConv } from "./fused_mixer.ts";
import type { GraphBuilder } from "./layers.ts";

const INT64_MAX = 2 ** 62;

/** The conv's weights as graph values: weight [ch, 1, k] and optional bias [ch], float32. */
export interface ConvWeights {
  weight: string;
  bias?: string;
}

/**
 * SiLU(conv1d) over l tokens: x [b, ch, l] -> [b, ch, l]. Declares `present_conv.{layer}`
 * [b, ch, k-1] as an output.
 */
export function causalConv(
  B: GraphBuilder,
  x: string,
  pastConv: string,
  w: ConvWeights,
  dims: { ch: number; k: number; layer: number },
): string {
  const g = B.g, { ch, k, layer } = dims;
  let u: string;
  if (B.opt.scan === "fused") {
    u = fusedConv(B, x, pastConv, w.weight, w.bias, layer);
  } else {
    const xpad = g.op("Concat", [pastConv, x], { axis: 2 }); // [b, ch, k-1+l]
    keepWindow(B, xpad, -(k - 1), layer);
    const conv = g.op("Conv", w.bias ? [xpad, w.weight, w.bias] : [xpad, w.weight], {
      group: ch,
      kernel_shape: [k],
    }); // [b, ch, l]
    u = B.silu(conv);
  }
  g.output(`present_conv.${layer}`, "float32", ["batch", ch, k - 1]);
  return u;
}

/**
 * SiLU(conv1d) for one token: x [b, ch] -> [b, ch], the window written out. Declares
 * `present_conv.{layer}` as an output.
 */
export function causalConvStep(
  B: GraphBuilder,
  x: string,
  pastConv: string,
  w: ConvWeights,
  dims: { ch: number; k: number; layer: number },
): string {
  const g = B.g, { ch, k, layer } = dims;
  if (B.opt.scan === "fused") {
    const u = causalConv(B, B.unsqueeze(x, 2), pastConv, w, dims); // [b, ch, 1]
    return g.op("Squeeze", [u, g.const("int64", [2])]);
  }
  const window = g.op("Concat", [pastConv, B.unsqueeze(x, 2)], { axis: 2 }); // [b, ch, k]
  keepWindow(B, window, 1, layer);
  g.output(`present_conv.${layer}`, "float32", ["batch", ch, k - 1]);
  const w2 = g.op("Reshape", [w.weight, g.const("int64", [ch, k])]);
  let conv = g.op("ReduceSum", [g.op("Mul", [window, w2]), g.const("int64", [2])], {
    keepdims: 0,
  }); // [b, ch]
  if (w.bias) conv = g.op("Add", [conv, w.bias]);
  return B.silu(conv);
}

/** `present_conv.{layer}`: the window's inputs from `start` on (the last k-1) along time. */
function keepWindow(B: GraphBuilder, window: string, start: number, layer: number): void {
  const g = B.g;
  g.op(
    "Slice",
    [
      window,
      g.const("int64", [start]),
      g.const("int64", [INT64_MAX]),
      g.const("int64", [2]),
    ],
    {},
    { outputs: [`present_conv.${layer}`] },
  );
}
