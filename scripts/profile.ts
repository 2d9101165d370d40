/**
 * Where a benchmark model spends its time: onnxruntime's per-operator profile of the prefill
 * and of decode steps, summed by operator type.
 *
 *   deno task profile [--size mamba-130m] [--method quamba] [--prompt 256] [--steps 16] [--threads N]
 */
import { join } from "node:path";
import { intOption, parseCli, runCli, threadsOption } from "../lib/cli.ts";
import { benchCacheDir, ensureBenchGraphs } from "../lib/bench/graphs.ts";
import { openBenchModel } from "../lib/bench/open.ts";
import { formatOpTimes, opTimes } from "../lib/bench/profile.ts";
import { shapeConfig, syntheticWeights } from "../lib/synthetic.ts";
import { prepareOutputDir } from "../lib/output.ts";
import { userPath } from "../lib/paths.ts";
import { kitTempDir } from "../lib/temp.ts";

const USAGE =
  `usage: deno task profile [--size mamba-130m] [--method quamba] [--prompt N] [--steps N] [--threads N] [--out DIR] [--force]`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    size: { type: "string" },
    method: { type: "string" },
    prompt: { type: "string" },
    steps: { type: "string" },
    threads: { type: "string" },
    out: { type: "string" },
    force: { type: "boolean" },
  }, USAGE);
  const size = o.size ?? "mamba-130m", method = o.method ?? "quamba";
  const L = intOption(o.prompt, "prompt", 256), steps = intOption(o.steps, "steps", 16);
  const threads = threadsOption(o.threads);
  const cfg = shapeConfig(size);
  const dir = benchCacheDir(size, method);
  await ensureBenchGraphs(dir, cfg, syntheticWeights(cfg), method, size);
  const out = o.out
    ? await prepareOutputDir(userPath(o.out), "profile", { force: o.force })
    : await kitTempDir("profile");
  const m = await openBenchModel(dir, { config: cfg, source: size, method }, "cpu", {
    threads,
    graphs: {
      prefill: { profileFilePrefix: join(out, "prefill") },
      decode: { profileFilePrefix: join(out, "decode") },
    },
  });
  const ids = Array.from({ length: L }, (_, i) => (i * 7919 + 11) % cfg.vocab_size);
  let { state } = await m.prefill([ids]); // warm-up (also profiled: 2 runs in all)
  ({ state } = await m.prefill([ids]));
  for (let t = 0; t < steps; t++) state = (await m.decode([ids[t]], state)).state;
  // deno-lint-ignore no-explicit-any
  const sessions = m as any;
  for (const [name, runs] of [["prefill", 2], ["decode", steps]] as const) {
    sessions[`${name}Session`].endProfiling();
    const file = join(
      out,
      [...Deno.readDirSync(out)].map((e) => e.name).find((f) => f.startsWith(`${name}_`))!,
    );
    const { ops, subgraph } = opTimes(JSON.parse(await Deno.readTextFile(file)));
    console.log(
      `${size} ${method} ${name} (${
        name === "prefill" ? `${L} tokens, ` : ""
      }per run, mean of ${runs}):`,
    );
    console.log(formatOpTimes(ops, runs));
    if (subgraph.length) {
      console.log(`  inside the Scan body:`);
      console.log(formatOpTimes(subgraph, runs, 10));
    }
    console.log(`  trace: ${file}`);
  }
  await m.close();
});
