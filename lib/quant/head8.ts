/**
 * An int8 weight-only lm_head and embedding, as a rewrite of a built graph (not part of
 * Quamba's recipe, which keeps both in floating point: used as its own benchmark method).
 *
 * The table W [v, d] is quantized symmetrically per row and per block of 32 columns, stored as
 * uint8 codes q + 128 in MatMulNBits' layout [v, d/32, 32] with scales [v, d/32]:
 * - lm_head: `MatMul(x, Transpose(W))` becomes `MatMulNBits(x, codes, scales)` (com.microsoft,
 *   8 bits, activations float: 154 MB of float32 read per token become 38.6 MB);
 * - embedding (a tied table shares the same codes): `Gather(W, ids)` becomes
 *   `(Cast(Gather(codes, ids)) - 128) · Gather(scales, ids)`, reshaped to [.., d].
 */
import type { MambaConfig } from "../arch/mamba/config.ts";
import { bytesOf, type Graph, type NodeProto } from "../onnx/builder.ts";
import type { WeightSource } from "../arch/mamba/graph.ts";
import { roundHalfEven } from "./int8.ts";

/** Columns per quantization block. */
export const HEAD_BLOCK = 32;

/**
 * Codes (q + 128, uint8) and per-block scales of a row-major [rows, cols] table, in MatMulNBits'
 * layout [rows, ceil(cols / block), block]; a last partial block is padded with zeros (code 128).
 */
export function quantizeBlocks(
  w: Float32Array,
  rows: number,
  cols: number,
  block = HEAD_BLOCK,
): { codes: Uint8Array; scales: Float32Array } {
  const nb = Math.ceil(cols / block),
    codes = new Uint8Array(rows * nb * block).fill(128),
    scales = new Float32Array(rows * nb);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const o = r * cols + b * block, len = Math.min(block, cols - b * block);
      let m = 0;
      for (let i = 0; i < len; i++) m = Math.max(m, Math.abs(w[o + i]));
      const s = m > 0 ? Math.fround(m / 127) : 1;
      scales[r * nb + b] = s;
      for (let i = 0; i < len; i++) {
        const q = roundHalfEven(Math.fround(w[o + i] / s));
        codes[(r * nb + b) * block + i] = Math.max(-127, Math.min(127, q)) + 128;
      }
    }
  }
  return { codes, scales };
}

/** Adds nodes at position `at` of the node list (after building them at the end). */
function spliceNodes(g: Graph, at: number, build: () => void): void {
  const n0 = g.nodes.length;
  build();
  const added = g.nodes.splice(n0, g.nodes.length - n0);
  g.nodes.splice(at, 0, ...added);
}

/**
 * Rewrites `g` (a prefill or decode graph built by lib/arch/mamba/graph.ts, float32 compute) in place.
 * `accuracyLevel` is MatMulNBits' attribute: 1 computes in float32 (default), 4 quantizes the
 * activations to int8 per block.
 *
 * @example
 * ```ts
 * const decode = buildDecode(cfg, src, opt, hooks);
 * int8Head(decode, cfg, src);
 * ```
 */
export function int8Head(
  g: Graph,
  config: MambaConfig,
  src: WeightSource,
  options: { accuracyLevel?: number } = {},
): void {
  const { vocab_size: v, hidden_size: d } = config;
  const headName = config.tie_word_embeddings ? "backbone.embeddings.weight" : "lm_head.weight";
  const tables = new Map<string, Promise<{ codes: Uint8Array; scales: Float32Array }>>();
  const quantized = (name: string) => {
    let p = tables.get(name);
    if (!p) tables.set(name, p = src.read(name).then((w) => quantizeBlocks(w, v, d)));
    return p;
  };
  const nb = d / HEAD_BLOCK;
  const init = (name: string) => {
    const codes = `${name}.q8`, scales = `${name}.q8_scales`;
    if (!g.initializers.has(codes)) {
      g.init(codes, "uint8", [v, nb, HEAD_BLOCK], async () => (await quantized(name)).codes);
      g.init(scales, "float32", [v, nb], async () => bytesOf((await quantized(name)).scales));
    }
    return { codes, scales };
  };
  const find = (pred: (n: NodeProto) => boolean, what: string) => {
    const i = g.nodes.findIndex(pred);
    if (i < 0) throw new Error(`int8Head: ${g.name} has no ${what}`);
    return i;
  };
  // lm_head: MatMul(x, Transpose(W)) -> MatMulNBits(x, codes, scales)
  const ti = find((n) => n.opType === "Transpose" && n.input![0] === headName, "lm_head Transpose");
  const tOut = g.nodes[ti].output![0];
  g.nodes.splice(ti, 1);
  const mi = find((n) => n.opType === "MatMul" && n.input![1] === tOut, "lm_head MatMul");
  const mm = g.nodes[mi];
  g.nodes.splice(mi, 1);
  const h = init(headName);
  spliceNodes(g, mi, () =>
    g.opN("MatMulNBits", [mm.input![0], h.codes, h.scales], {
      K: d,
      N: v,
      bits: 8,
      block_size: HEAD_BLOCK,
      accuracy_level: options.accuracyLevel ?? 1,
    }, { domain: "com.microsoft", outputs: mm.output as string[] }));
  // embedding: Gather(W, ids) -> dequantized rows
  const embName = "backbone.embeddings.weight";
  const gi = find((n) => n.opType === "Gather" && n.input![0] === embName, "embedding Gather");
  const ga = g.nodes[gi];
  g.nodes.splice(gi, 1);
  const e = init(embName);
  const ids = ga.input![1];
  spliceNodes(g, gi, () => {
    const rows = g.op("Cast", [g.op("Gather", [e.codes, ids])], { to: 1 }); // [.., nb, 32]
    const s = g.op("Unsqueeze", [g.op("Gather", [e.scales, ids]), g.const("int64", [-1])]);
    const x = g.op("Mul", [g.op("Sub", [rows, g.scalar("float32", 128)]), s]);
    // [.., nb, 32] -> [.., d]: keep the leading dims (0), merge the last two
    const lead = g.name === "mamba_prefill" ? [0, 0] : [0];
    g.op("Reshape", [x, g.const("int64", [...lead, d])], {}, { outputs: ga.output as string[] });
  });
  // the float tables are no longer read
  for (const name of new Set([headName, embName])) {
    if (!g.nodes.some((n) => n.input!.includes(name))) g.initializers.delete(name);
  }
}
