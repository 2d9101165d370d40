/**
 * Graph hooks that run every projection and the lm_head as onnxruntime's `MatMulNBits`
 * (com.microsoft) with 8-bit weights: codes q + 128 per row and block of 32 input channels, one
 * float scale per block (lib/quant/head8.ts `quantizeBlocks`). With accuracy level 4 the kernel
 * also quantizes its activations to int8 per block at run time (DP4A dot products on WebGPU, VNNI
 * on the CPU): a W8A8 configuration whose activation scales are dynamic, unlike Quamba's static
 * ones, so the benchmark reports it as its own method. Weight bytes are a quarter of float32.
 */
import { archOfConfig, type ModelConfig } from "../arch/registry.ts";
import type { GraphHooks, WeightSource } from "../arch/mamba/graph.ts";
import { bytesOf, type Graph } from "../onnx/builder.ts";
import { HEAD_BLOCK, quantizeBlocks } from "./head8.ts";
import { projectionInput } from "./points.ts";

export interface NbitsOptions {
  /** MatMulNBits' accuracy_level: 4 quantizes activations to int8 (default), 1 keeps them float. */
  accuracyLevel?: number;
  /** Also the lm_head (default true). */
  head?: boolean;
}

/**
 * Hooks replacing `x @ W^T` of every projection a method quantizes (and the lm_head) by `MatMulNBits`; float32
 * compute. Combine with other hooks (e.g. the Hadamard of `y`) by spreading.
 *
 * @example
 * ```ts
 * const decode = buildDecode(cfg, src, { weights: "float32", compute: "float32" }, nbitsHooks(cfg, src));
 * ```
 */
export function nbitsHooks(
  config: ModelConfig,
  src: WeightSource,
  options: NbitsOptions = {},
): GraphHooks {
  const { accuracyLevel = 4, head = true } = options;
  const headName = archOfConfig(config).lmHead(config).replace(/\.weight$/, "");
  const tables = new Map<string, Promise<{ codes: Uint8Array; scales: Float32Array }>>();
  return {
    linear(g: Graph, x: string, prefix: string, out: number, inp: number) {
      const isProj = projectionInput(prefix) !== undefined;
      if (!isProj && !(head && prefix === headName)) return undefined;
      const name = `${prefix}.weight`, nb = Math.ceil(inp / HEAD_BLOCK);
      const codes = `${name}.q8`, scales = `${name}.q8_scales`;
      if (!g.initializers.has(codes)) {
        const q = () => {
          let p = tables.get(name);
          if (!p) tables.set(name, p = src.read(name).then((w) => quantizeBlocks(w, out, inp)));
          return p;
        };
        g.init(codes, "uint8", [out, nb, HEAD_BLOCK], async () => (await q()).codes);
        g.init(scales, "float32", [out, nb], async () => bytesOf((await q()).scales));
      }
      return g.op("MatMulNBits", [x, codes, scales], {
        K: inp,
        N: out,
        bits: 8,
        block_size: HEAD_BLOCK,
        accuracy_level: accuracyLevel,
      }, { domain: "com.microsoft" });
    },
  };
}
