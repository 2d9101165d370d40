/**
 * Graph hooks that build a Mamba-2 recipe's quantized graphs (lib/quant/quamba2/recipes.ts) as
 * an emulation in float32 of what the authors' kernels compute (enyac-group/Quamba, qMamba2.py):
 *
 * - activations (aBits 8): the in_proj input, in_proj's five parts (z, x, B, C before the conv;
 *   dt before dt_bias), the conv's x, B and C, the SSM state a graph returns, the out_proj input
 *   (after the online Hadamard when the recipe rotates) and the lm_head input are rounded to
 *   int8 on their static scales (round half to even, clamp to [-128, 127]) and used dequantized;
 * - weights (wBits 8): in_proj per part, out_proj and the lm_head per tensor, int8 behind
 *   DequantizeLinear; conv1d (weight and bias per part), A_log and D per tensor (aBits 8); the
 *   embedding per row (8 bits, or 4 with wBits 4), with the authors' signed row maximum;
 * - weights (wBits 4): in_proj, out_proj and the lm_head as 4-bit MatMulNBits (groups of 128,
 *   lib/quant/nbits4.ts) from GPTQ or round-to-nearest.
 *
 * The SSM itself (dt's softplus, the scan, D x, the gated norm) runs in float32 on these values,
 * as the authors' kernels dequantize their int8 inputs. Dimensions: lib/arch/mamba2/config.ts.
 */
import { type Mamba2Config, mamba2Dims } from "../../arch/mamba2/config.ts";
import { bytesOf, type Graph } from "../../onnx/builder.ts";
import { hadamardOnnx } from "../../onnx/hadamard_op.ts";
import type { GraphHooks, WeightSource } from "../../onnx/hooks.ts";
import type { GroupQuantized } from "../gptq.ts";
import { nbits4Hooks } from "../nbits4.ts";
import type { Mamba2Recipe } from "./recipes.ts";
import type { Mamba2Scales } from "./scales.ts";

/** The lm_head's projection prefix: `lm_head`, or the embedding's when tied. */
export const headPrefix = (cfg: Mamba2Config): string =>
  cfg.tie_word_embeddings ? "backbone.embeddings" : "lm_head";

/** int8 codes of x on per-element scales (`scaleAt(i)`), round half to even, clamped. */
export function quantizeInt8(x: Float32Array, scaleAt: (i: number) => number, lo = -128, hi = 127) {
  const q = new Int8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i] / scaleAt(i), r = Math.round(v);
    // round half to even, as rint and onnxruntime's QuantizeLinear
    const even = Math.abs(v - Math.trunc(v)) === 0.5 ? 2 * Math.round(v / 2) : r;
    q[i] = Math.min(hi, Math.max(lo, even));
  }
  return q;
}

const absmax = (x: ArrayLike<number>, from = 0, to = x.length) => {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
};
const wScale = (amax: number) => Math.fround(Math.max(amax, 1e-8) / 127);

/**
 * Per-element scales of a per-part weight: rows [from, to) of each part share one absmax/127.
 * `parts` are row counts; `rowLen` the values per row.
 */
export function partScales(w: Float32Array, parts: number[], rowLen: number): Float32Array {
  const rows = new Float32Array(parts.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const rc of parts) {
    rows.fill(wScale(absmax(w, at * rowLen, (at + rc) * rowLen)), at, at + rc);
    at += rc;
  }
  return rows;
}

/**
 * The embedding table per row as the authors' W8O16/W4O16Embedding: the row's signed maximum
 * over 127 (8 bits) or 8 (4 bits, codes q in [-8, 7]); returns codes and row scales.
 */
export function quantizeEmbedding(E: Float32Array, v: number, d: number, bits: 4 | 8) {
  const scales = new Float32Array(v), div = bits === 8 ? 127 : 8;
  for (let r = 0; r < v; r++) {
    let m = -Infinity;
    for (let j = 0; j < d; j++) m = Math.max(m, E[r * d + j]);
    // a row without a positive value would get a scale ≤ 0: fall back to |x|max (not in the code)
    scales[r] = Math.fround((m > 0 ? m : absmax(E, r * d, (r + 1) * d) || 1) / div);
  }
  const [lo, hi] = bits === 8 ? [-128, 127] : [-8, 7];
  return { codes: quantizeInt8(E, (i) => scales[Math.floor(i / d)], lo, hi), scales };
}

/**
 * The hooks of `recipe` for a Mamba-2 config (after the recipe's rotations) and its weights.
 * `w4` holds the 4-bit weights by projection prefix when wBits is 4.
 *
 * @example
 * ```ts
 * const hooks = quamba2Hooks(cfg, src, recipe, scales, w4);
 * const prefill = buildMamba2Prefill(cfg, src, { weights: "float32", compute: "float32" }, hooks);
 * ```
 */
export function quamba2Hooks(
  cfg: Mamba2Config,
  src: WeightSource,
  recipe: Mamba2Recipe,
  scales: Mamba2Scales,
  w4: Map<string, GroupQuantized> = new Map(),
): GraphHooks {
  const { d, e, g, n, h, p, c, k, v } = mamba2Dims(cfg);
  const a8 = recipe.aBits === 8;
  const zp = (gr: Graph) => gr.const("int8", [0], [], "quant.zero_point");

  /** round(x / s) clamped to int8, times s: s a scalar, a vector over the last axis, or [h, p, n]. */
  function fq(gr: Graph, x: string, s: number | Float32Array, name: string, dims?: number[]) {
    const sc = typeof s === "number"
      ? gr.const("float32", [s], [], name)
      : gr.const("float32", s, dims ?? [s.length], name);
    const q = gr.op("Clip", [
      gr.op("Round", [gr.op("Div", [x, sc])]),
      gr.scalar("float32", -128),
      gr.scalar("float32", 127),
    ]);
    return gr.op("Mul", [q, sc]);
  }

  /**
   * A QuantizeLinear → DequantizeLinear pair on a per-tensor scale: the same values as `fq`
   * (round half to even, saturate), in the form onnxruntime fuses with the int8 weight behind it
   * into an int8 MatMul (the in_proj, out_proj and lm_head inputs, each with one consumer).
   */
  function qdq(gr: Graph, x: string, s: number, name: string) {
    const sc = gr.const("float32", [s], [], name);
    return gr.op("DequantizeLinear", [gr.op("QuantizeLinear", [x, sc, zp(gr)]), sc, zp(gr)]);
  }

  const tables = new Map<string, Promise<{ codes: Int8Array; scales: Float32Array }>>();

  /** An int8 initializer and its scales (scalar, or per index of `axis`) behind DequantizeLinear. */
  function dq(
    gr: Graph,
    name: string,
    dims: number[],
    make: () => Promise<{ codes: Int8Array; scales: Float32Array }>,
    axis?: number,
  ): string {
    const qn = `${name}.int8`, sn = `${name}.scale`;
    // quantized once for both graphs (the prefill's and the decode's initializers are the same)
    const get = () => {
      let t = tables.get(name);
      if (!t) tables.set(name, t = make());
      return t;
    };
    if (!gr.initializers.has(qn)) {
      gr.init(qn, "int8", dims, async () => bytesOf((await get()).codes));
      const sdims = axis === undefined ? [] : [dims[axis]];
      gr.init(sn, "float32", sdims, async () => bytesOf((await get()).scales));
      if (axis !== undefined) {
        gr.init(
          `${name}.zero_points`,
          "int8",
          sdims,
          () => Promise.resolve(new Uint8Array(dims[axis])),
        );
      }
    }
    return axis === undefined
      ? gr.op("DequantizeLinear", [qn, sn, zp(gr)])
      : gr.op("DequantizeLinear", [qn, sn, `${name}.zero_points`], { axis });
  }

  /** A checkpoint tensor per tensor (one scale) or per part along its first axis. */
  function paramDq(gr: Graph, name: string, dims: number[], parts?: number[]) {
    const rowLen = dims.slice(1).reduce((a, b) => a * b, 1);
    return dq(gr, name, dims, async () => {
      const w = await src.read(name);
      if (!parts) {
        const s = wScale(absmax(w));
        return { codes: quantizeInt8(w, () => s), scales: Float32Array.of(s) };
      }
      const rows = partScales(w, parts, rowLen);
      return { codes: quantizeInt8(w, (i) => rows[Math.floor(i / rowLen)]), scales: rows };
    }, parts ? 0 : undefined);
  }

  const nb = recipe.wBits === 4 ? nbits4Hooks(w4) : undefined;
  return {
    act(gr, layer, name, value) {
      if (name === "y" && recipe.rotate) {
        value = hadamardOnnx(gr, value, e, gr.name.endsWith("_decode") ? 2 : 3);
      }
      if (!a8) return value;
      const tag = `layers.${layer}.${name}.act_scale`;
      // the projections' inputs as Q/DQ pairs: int8 kernels where the weights are int8 too
      const proj = recipe.wBits === 8 ? qdq : fq;
      if (name === "lm_head.input") return proj(gr, value, scales.lmHeadInput, tag);
      const s = scales.layers[layer];
      switch (name) {
        case "in_proj.input":
          return proj(gr, value, s.inProjInput, tag);
        case "z":
          return fq(gr, value, s.z, tag);
        case "dt":
          return fq(gr, value, s.dt, tag);
        case "xBC":
          return fq(gr, value, s.xBC, tag);
        case "u":
          return fq(gr, value, s.u, tag);
        case "B":
          return fq(gr, value, s.B, tag);
        case "C":
          return fq(gr, value, s.C, tag);
        case "ssm_state":
          return s.state ? fq(gr, value, s.state, tag, [h, p, n]) : value;
        case "y":
          return proj(gr, value, s.y, tag);
        default:
          return value;
      }
    },
    param(gr, name, dims) {
      if (name === "backbone.embeddings.weight") {
        const bits = recipe.wBits;
        return dq(
          gr,
          name,
          dims,
          async () => quantizeEmbedding(await src.read(name), v, d, bits),
          0,
        );
      }
      if (!a8) return undefined;
      if (name.endsWith(".mixer.conv1d.weight")) {
        return paramDq(gr, name, [c, 1, k], [e, g * n, g * n]);
      }
      if (name.endsWith(".mixer.conv1d.bias")) return paramDq(gr, name, [c], [e, g * n, g * n]);
      if (name.endsWith(".mixer.A_log") || name.endsWith(".mixer.D")) {
        return paramDq(gr, name, dims);
      }
      return undefined;
    },
    matmulWeight(gr, prefix, out, inp) {
      if (recipe.wBits !== 8) return undefined;
      const isIn = prefix.endsWith(".mixer.in_proj");
      if (!isIn && !prefix.endsWith(".mixer.out_proj") && prefix !== headPrefix(cfg)) {
        return undefined;
      }
      // W [out, in] quantized, then stored transposed [in, out] with per-column scales
      const name = `${prefix}.weight`;
      return dq(gr, `${name}.T`, [inp, out], async () => {
        const w = await src.read(name);
        const rows = isIn
          ? partScales(w, [e, e, g * n, g * n, h], inp)
          : new Float32Array(out).fill(wScale(absmax(w)));
        const codes = quantizeInt8(w, (i) => rows[Math.floor(i / inp)]);
        const t = new Int8Array(out * inp);
        for (let o = 0; o < out; o++) {
          for (let i = 0; i < inp; i++) t[i * out + o] = codes[o * inp + i];
        }
        return { codes: t, scales: rows };
      }, 1);
    },
    linear: nb?.linear,
  };
}
