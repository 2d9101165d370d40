/**
 * The Hadamard transform of Quamba's out_proj input (n = d_inner 1536 = 3 · 512 for mamba-130m,
 * 5120 = 5 · 1024 for mamba-2.8b): lib/hadamard.ts in TypeScript (float64, used offline on
 * weights) and the ONNX form the graphs run (three small MatMuls), for 1 and 256 rows.
 */
import { hadamardRows } from "../lib/hadamard.ts";
import { hadamardGraph, openGraph, seeded, tensor } from "../lib/bench/micro.ts";

for (const n of [1536, 5120]) {
  const { session } = await openGraph(hadamardGraph(n));
  for (const rows of [1, 256]) {
    const x = seeded(rows * n);
    const xt = tensor([rows, n]);
    Deno.bench({
      name: `hadamard n=${n}, ${rows} rows: TypeScript`,
      group: `hadamard ${n} x ${rows}`,
      fn() {
        hadamardRows(x, n);
      },
    });
    Deno.bench({
      name: `hadamard n=${n}, ${rows} rows: ONNX`,
      group: `hadamard ${n} x ${rows}`,
      baseline: true,
      async fn() {
        await session.run({ x: xt });
      },
    });
  }
}
