/**
 * The prefill's selective scan of one mamba-130m layer (d_inner 1536, d_state 16) over 256
 * tokens: the ONNX Scan of lib/arch/mamba/graph.ts and two reformulations (see lib/bench/micro.ts).
 * Its cost is per Scan iteration, about the same whatever the body: the floor of the prefill.
 */
import { openGraph, scanGraph, type ScanVariant, tensor } from "../lib/bench/micro.ts";

const e = 1536, n = 16, l = 256;
const feeds = {
  h: tensor([1, e, n]),
  dt: tensor([1, l, e], 3, 0.02),
  dtu: tensor([1, l, e], 4),
  B: tensor([1, l, n], 5),
  C: tensor([1, l, n], 6),
};
for (const v of ["step", "step-shaped", "precomputed"] as ScanVariant[]) {
  const { session } = await openGraph(scanGraph(e, n, v));
  Deno.bench({
    name: `scan 1 layer, ${l} tokens: ${v}`,
    group: "scan",
    baseline: v === "step",
    async fn() {
      await session.run(feeds);
    },
  });
}
