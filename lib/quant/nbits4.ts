/**
 * Group-quantized weights (lib/quant/gptq.ts) as onnxruntime's `MatMulNBits` (com.microsoft),
 * which exists on the CPU, CUDA and WebGPU EPs: B [N, k_blocks, block·bits/8] uint8 with two
 * 4-bit codes a byte (low nibble first), scales [N, k_blocks] float32, zero points [N,
 * ceil(k_blocks / 2)] uint8 packed the same way; a weight is (q - zero) · scale. The block is
 * the quantization group (128), a power of two ≥ 16; K need not be a multiple of it (the last
 * block is padded with the zero point's code).
 */
import { bytesOf, type Graph } from "../onnx/builder.ts";
import type { GraphHooks } from "../onnx/hooks.ts";
import { KitError } from "../errors.ts";
import { f32ArrayToF16 } from "../dtypes.ts";
import type { GroupQuantized } from "./gptq.ts";

/** MatMulNBits' initializers for one 4-bit weight. */
export interface Packed4 {
  codes: Uint8Array;
  scales: Float32Array;
  zeros: Uint8Array;
  blocks: number;
}

/**
 * Packs a 4-bit group-quantized weight [out, in] into MatMulNBits' layout.
 *
 * @example
 * ```ts
 * const p = pack4(quantizeRtn(w, out, inp, { bits: 4, group: 128 }));
 * ```
 */
export function pack4(q: GroupQuantized): Packed4 {
  const { out, inp, group } = q;
  if (q.bits !== 4) throw new KitError(`pack4: ${q.bits}-bit codes (4 expected)`);
  if (group < 16 || (group & (group - 1)) !== 0) {
    throw new KitError(`MatMulNBits needs a power-of-two group ≥ 16, got ${group}`);
  }
  const blocks = Math.ceil(inp / group), blob = group / 2;
  const codes = new Uint8Array(out * blocks * blob);
  const zrow = Math.ceil(blocks / 2), zeros = new Uint8Array(out * zrow);
  for (let o = 0; o < out; o++) {
    for (let b = 0; b < blocks; b++) {
      const z = q.zeros[o * blocks + b];
      zeros[o * zrow + (b >> 1)] |= z << ((b & 1) * 4);
      for (let j = 0; j < group; j++) {
        const i = b * group + j;
        const c = i < inp ? q.codes[o * inp + i] : z;
        codes[(o * blocks + b) * blob + (j >> 1)] |= c << ((j & 1) * 4);
      }
    }
  }
  return { codes, scales: q.scales, zeros, blocks };
}

/**
 * Hooks running the projections of `weights` (by prefix, e.g. `backbone.layers.0.mixer.in_proj`)
 * as 4-bit MatMulNBits with float activations (`accuracyLevel` 0: W4A16's arithmetic; `float16`
 * for graphs that compute the projections in float16); other projections keep their MatMul.
 *
 * @example
 * ```ts
 * const hooks = nbits4Hooks(new Map([[prefix, quantizeRtn(w, out, inp)]]));
 * ```
 */
export function nbits4Hooks(
  weights: Map<string, GroupQuantized>,
  options: { accuracyLevel?: number; float16?: boolean } = {},
): GraphHooks {
  const packed = new Map<string, Packed4>();
  return {
    linear(g: Graph, x: string, prefix: string, out: number, inp: number) {
      const q = weights.get(prefix);
      if (!q) return undefined;
      if (q.out !== out || q.inp !== inp) {
        throw new KitError(
          `${prefix}: quantized [${q.out}, ${q.inp}], graph wants [${out}, ${inp}]`,
        );
      }
      const name = `${prefix}.weight`;
      const [c, s, z] = [`${name}.q4`, `${name}.q4_scales`, `${name}.q4_zeros`];
      if (!g.initializers.has(c)) {
        const p = () => {
          let v = packed.get(prefix);
          if (!v) packed.set(prefix, v = pack4(q));
          return v;
        };
        const blocks = Math.ceil(inp / q.group);
        g.init(c, "uint8", [out, blocks, q.group / 2], () => Promise.resolve(p().codes));
        // the scales' type is the activations' (float16 compute: float16 scales)
        g.init(
          s,
          options.float16 ? "float16" : "float32",
          [out, blocks],
          () =>
            Promise.resolve(
              options.float16 ? bytesOf(f32ArrayToF16(p().scales)) : bytesOf(p().scales),
            ),
        );
        g.init(z, "uint8", [out * Math.ceil(blocks / 2)], () => Promise.resolve(p().zeros));
      }
      return g.op("MatMulNBits", [x, c, s, z], {
        K: inp,
        N: out,
        bits: 4,
        block_size: q.group,
        accuracy_level: options.accuracyLevel ?? 0,
      }, { domain: "com.microsoft" });
    },
  };
}
