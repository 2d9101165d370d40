/**
 * One projection, float32 vs int8 forms, at decode (1 token) and prefill (256 tokens) sizes of
 * mamba-130m's in_proj (768 → 3072) and of its lm_head (768 → 50280).
 *
 *   deno task microbench   (or: deno bench -A bench/projection_bench.ts)
 */
import { openGraph, projectionGraph, type ProjectionKind, tensor } from "../lib/bench/micro.ts";

const KINDS: ProjectionKind[] = ["fp32", "w8a8", "dynamic", "nbits8-a8"];
const SHAPES = [
  { name: "in_proj 768x3072", k: 768, n: 3072, ms: [1, 256] },
  { name: "lm_head 768x50280", k: 768, n: 50280, ms: [1] },
];

for (const { name, k, n, ms } of SHAPES) {
  for (const kind of KINDS) {
    const { session } = await openGraph(projectionGraph(kind, k, n));
    for (const m of ms) {
      const x = tensor([m, k]);
      Deno.bench({
        name: `${name}, ${m} token${m > 1 ? "s" : ""}: ${kind}`,
        group: `${name} m=${m}`,
        baseline: kind === "fp32",
        async fn() {
          await session.run({ x });
        },
      });
    }
  }
}
