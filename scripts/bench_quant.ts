/**
 * int8 (QDQ, fused by onnxruntime) vs fp32 on the CPU EP: prefill and decode of one model shape,
 * measured in one run and printed as ratios. The weights are seeded random values of the right
 * shapes and the activation scales fixed: speed does not depend on the values.
 *
 *   deno run -A scripts/bench_quant.ts [--shape mamba-130m] [--method quamba] [--prompt-len 256] [--steps 32]
 */
import { join } from "node:path";
import { cacheRoot } from "../lib/cache.ts";
import { intOption, parseCli, runCli } from "../lib/cli.ts";
import { exists } from "../lib/fsutil.ts";
import { buildDecode, buildPrefill } from "../lib/mamba_onnx.ts";
import { buildGraphs, type Model, OnnxModel } from "../lib/model.ts";
import { writeModelFolder } from "../lib/onnx/save.ts";
import { methodSpec } from "../lib/quant/methods.ts";
import { ACT_POINTS, type QuantPlan } from "../lib/quant/plan.ts";
import { qdqHooks } from "../lib/quant/qdq.ts";
import { transformWeights } from "../lib/quant/transform.ts";
import { summarize, timeit } from "../lib/stats_time.ts";
import { shapeConfig, syntheticWeights } from "../lib/synthetic.ts";
import { missingTokenizer } from "../lib/tokenizer.ts";

const USAGE =
  `usage: deno run -A scripts/bench_quant.ts [--shape mamba-130m] [--method quamba] [--prompt-len N] [--steps N] [--repeats N] [--threads N]`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    shape: { type: "string" },
    method: { type: "string" },
    "prompt-len": { type: "string" },
    steps: { type: "string" },
    repeats: { type: "string" },
    threads: { type: "string" },
  }, USAGE);
  const shape = o.shape ?? "mamba-130m", method = o.method ?? "quamba";
  const spec = methodSpec(method);
  const L = intOption(o["prompt-len"], "prompt-len", 256), steps = intOption(o.steps, "steps", 32);
  const repeats = intOption(o.repeats, "repeats", 5),
    threads = intOption(o.threads, "threads", 0) || undefined;
  const cfg = shapeConfig(shape), src = syntheticWeights(cfg);
  const root = join(cacheRoot(), `synthetic-${shape}`);
  const fpDir = join(root, "float32-float32"), qDir = join(root, `int8-${method}`);
  if (!(await exists(join(fpDir, "decode.onnx")))) {
    await buildGraphs(fpDir, cfg, src, { weights: "float32", compute: "float32" });
  }
  if (!(await exists(join(qDir, "decode.onnx")))) {
    const t = await transformWeights(cfg, src, spec); // (SmoothQuant needs statistics: not benchmarked)
    const scale = Object.fromEntries(ACT_POINTS.map((p) => [p, 0.05])) as Record<
      (typeof ACT_POINTS)[number],
      number
    >;
    const plan: QuantPlan = {
      method,
      percentile: 99.999,
      spec,
      layers: Array.from({ length: cfg.num_hidden_layers }, () => ({ amax: scale, scale })),
    };
    const hooks = qdqHooks(t.config, t.src, plan);
    const opt = { weights: "float32", compute: "float32" } as const;
    await writeModelFolder(qDir, {
      "prefill.onnx": buildPrefill(t.config, t.src, opt, hooks),
      "decode.onnx": buildDecode(t.config, t.src, opt, hooks),
    });
  }
  const run = async (dir: string, name: string) => {
    const m: Model = await OnnxModel.open(
      dir,
      { config: cfg, tokenizer: missingTokenizer(dir), source: shape, method: name },
      "cpu",
      threads,
    );
    const ids = Array.from({ length: L }, (_, i) => (i * 7919 + 11) % cfg.vocab_size);
    const pre = summarize(await timeit(() => m.prefill([ids]), 2, repeats));
    const { state } = await m.prefill([ids]);
    const dec = summarize(
      await timeit(
        async () => {
          let s = state;
          for (let t = 0; t < steps; t++) s = (await m.decode([ids[t]], s)).state;
        },
        2,
        repeats,
      ),
    );
    await m.close();
    console.log(
      `${shape} ${name}: prefill ${L} tokens ${pre.median.toFixed(0)} ms; decode ${
        (dec.median / steps).toFixed(2)
      } ms/token`,
    );
    return { prefill: pre.median, decode: dec.median / steps };
  };
  const fp = await run(fpDir, "fp32");
  const q = await run(qDir, method);
  console.log(
    `int8 (${method}) vs fp32 on the CPU EP: prefill ${
      (fp.prefill / q.prefill).toFixed(2)
    }x faster, decode ${(fp.decode / q.decode).toFixed(2)}x faster`,
  );
});
