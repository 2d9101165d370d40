/**
 * The backbone Mamba-1 and Mamba-2 share (`backbone.*` tensors): the embedding, one pre-norm
 * residual block per layer around the layer's mixer, the final norm and the lm_head (the
 * embedding when tied). Each architecture brings its mixer (lib/arch/mamba/graph.ts,
 * lib/arch/mamba2/graph.ts). Dimensions: lib/arch/mamba/config.ts.
 */
import type { Graph } from "../../onnx/builder.ts";
import type { GraphHooks, GraphOptions, WeightSource } from "../../onnx/hooks.ts";
import { GraphBuilder, type ModelSpec } from "../../onnx/layers.ts";

/** The config fields the backbone reads (Mamba-1's and Mamba-2's alike). */
export interface BackboneConfig {
  hidden_size: number;
  vocab_size: number;
  num_hidden_layers: number;
  layer_norm_epsilon: number;
  residual_in_fp32: boolean;
  tie_word_embeddings: boolean;
}

/** The shared layers' view of a Mamba-1 or Mamba-2 config. */
export function backboneSpec(cfg: BackboneConfig): ModelSpec {
  return {
    hidden: cfg.hidden_size,
    vocab: cfg.vocab_size,
    eps: cfg.layer_norm_epsilon,
    residualFp32: cfg.residual_in_fp32,
    embedding: "backbone.embeddings.weight",
    finalNorm: "backbone.norm_f.weight",
    lmHead: cfg.tie_word_embeddings ? "backbone.embeddings" : "lm_head",
  };
}

/**
 * A whole graph named `name`: `*_prefill` takes input_ids [b, l] and returns logits [b, l, v],
 * `*_decode` input_ids [b] and logits [b, v]. `mixer(B, i, x)` builds layer i's mixer (declaring
 * its states) on its normed input x [.., d] in the compute type and returns its output [.., d];
 * `head(B, hidden, out)` the final residual add, norm and lm_head (default GraphBuilder.head).
 *
 * @example
 * ```ts
 * const g = buildBackbone("mamba_decode", cfg, src, opt, hooks, (B, i, x) => mixerDecode(B, spec(i), x));
 * ```
 */
export function buildBackbone(
  name: string,
  cfg: BackboneConfig,
  src: WeightSource,
  opt: GraphOptions,
  hooks: GraphHooks,
  mixer: (B: GraphBuilder, i: number, x: string) => string,
  head: (B: GraphBuilder, hidden: string, out: string | undefined) => string = (B, h, o) =>
    B.head(h, o),
): Graph {
  const B = new GraphBuilder(name, backboneSpec(cfg), src, opt, hooks);
  const tokens = B.isDecode ? ["batch"] : ["batch", "seq"];
  let hidden = B.embed(B.g.input("input_ids", "int64", tokens)); // [.., d]
  let out: string | undefined; // the previous block's output, added to the residual by normAfter
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    let x: string;
    [x, hidden] = B.normAfter(hidden, out, `backbone.layers.${i}.norm.weight`); // [.., d]
    out = mixer(B, i, B.toCt(x)); // [.., d]
  }
  B.g.output(head(B, hidden, out), "float32", [...tokens, cfg.vocab_size], "logits");
  return B.g;
}
