/**
 * Prefill and decode throughput of fp32 and fp16 graphs, measured in one run, with their ratio.
 *
 *   deno task bench-fp16 [--model DIR | --shape mamba-130m] [--ep cpu] [--prompt-len 256] [--steps 32]
 */
import { intOption, parseCli, runCli } from "../lib/cli.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import {
  buildGraphs,
  type Dtype,
  graphOptions,
  graphVariant,
  maxPrefillOf,
  type Model,
  modelFromCheckpoint,
  OnnxModel,
} from "../lib/model.ts";
import { EMBEDDED_MODEL, userPath } from "../lib/paths.ts";
import { parseEp } from "../lib/runtime.ts";
import { shapeConfig, syntheticWeights } from "../lib/synthetic.ts";
import { summarize, timeit } from "../lib/stats_time.ts";
import { missingTokenizer } from "../lib/tokenizer.ts";
import { cacheRoot, checkCacheDir, GRAPH_VERSION } from "../lib/cache.ts";
import { join } from "node:path";

const USAGE = `Prefill and decode tokens/s, fp32 vs fp16.

usage: deno task bench-fp16 [--model DIR | --shape NAME] [options]
  --model DIR       checkpoint folder (default: the embedded model)
  --shape NAME      seeded random weights of a family member instead (mamba-130m ... mamba-2.8b)
  --ep NAME         cpu (default), webgpu, cuda
  --prompt-len N    prefill length (default 256)
  --steps N         decode steps per repeat (default 32)
  --repeats N       timed repeats after 2 warm-ups (default 5)`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    model: { type: "string" },
    shape: { type: "string" },
    ep: { type: "string" },
    "prompt-len": { type: "string" },
    steps: { type: "string" },
    repeats: { type: "string" },
  }, USAGE);
  const ep = parseEp(o.ep ?? "cpu");
  const L = intOption(o["prompt-len"], "prompt-len", 256, { min: 1 });
  const steps = intOption(o.steps, "steps", 32, { min: 1 });
  const repeats = intOption(o.repeats, "repeats", 5, { min: 1 });
  await checkCacheDir();
  const open = async (dtype: Dtype): Promise<Model> => {
    if (!o.shape) {
      return await modelFromCheckpoint(
        await openCheckpoint(o.model ? userPath(o.model) : EMBEDDED_MODEL),
        {
          ep,
          dtype,
        },
      );
    }
    const cfg = shapeConfig(o.shape);
    const opt = graphOptions(dtype, ep);
    const dir = join(cacheRoot(), `synthetic-${o.shape}`, `g${GRAPH_VERSION}-${graphVariant(opt)}`);
    try {
      await Deno.stat(join(dir, "decode.onnx"));
    } catch {
      await buildGraphs(dir, cfg, syntheticWeights(cfg), opt, { source: `synthetic ${o.shape}` });
    }
    const meta = {
      config: cfg,
      tokenizer: missingTokenizer(dir),
      source: `synthetic ${o.shape}`,
      method: dtype,
      maxPrefill: maxPrefillOf(opt),
    };
    return await OnnxModel.open(dir, meta, ep);
  };
  const rows: Record<string, { prefill: number; decode: number }> = {};
  for (const dtype of ["fp32", "fp16"] as const) {
    const model = await open(dtype);
    const v = model.config.vocab_size;
    const ids = Array.from({ length: L }, (_, i) => (i * 7919 + 11) % v);
    const pre = summarize(await timeit(() => model.prefill([ids]), 2, repeats));
    const { state } = await model.prefill([ids]);
    const dec = summarize(
      await timeit(
        async () => {
          let s = state;
          for (let t = 0; t < steps; t++) s = (await model.decode([ids[t]], s)).state;
        },
        2,
        repeats,
      ),
    );
    rows[dtype] = { prefill: L / (pre.median / 1000), decode: steps / (dec.median / 1000) };
    console.log(
      `${model.source} ${dtype} on ${ep}: prefill ${L} tokens ${
        pre.median.toFixed(1)
      } ms (median of ${pre.n}) = ` +
        `${rows[dtype].prefill.toFixed(0)} tokens/s; decode ${
          (dec.median / steps).toFixed(2)
        } ms/token = ` +
        `${rows[dtype].decode.toFixed(1)} tokens/s`,
    );
    await model.close();
  }
  console.log(
    `ratio fp16/fp32: prefill ${(rows.fp16.prefill / rows.fp32.prefill).toFixed(2)}x, ` +
      `decode ${(rows.fp16.decode / rows.fp32.decode).toFixed(2)}x` +
      (ep === "cpu" ? " (the CPU EP computes fp16 weights in float32: expect about 1x)" : ""),
  );
});
