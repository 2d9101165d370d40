/**
 * The CPU targets of issue 6 as ratios measured in one run, interleaved (robust to other
 * processes' bursts of load on a shared machine): fp32 and the int8 methods of one shape open
 * together, rounds of one prefill and a block of decode steps each, medians; the decode step
 * against the bandwidth floor from a copy benchmark of the same run.
 *
 *   deno task bench-targets [--size 130m] [--methods quamba,w8a8,quamba-head8] [--prompt 512] [--rounds 10]
 */
import { join } from "node:path";
import { bandwidthFloor, copyBandwidth } from "../lib/bench/bandwidth.ts";
import { benchEnv, envLine, foreignLoad } from "../lib/bench/env.ts";
import { benchCacheDir, checkMethod, ensureBenchGraphs } from "../lib/bench/graphs.ts";
import { inspectModel } from "../lib/bench/inspect.ts";
import { interleaved } from "../lib/bench/interleaved.ts";
import { stateBytes } from "../lib/bench/memory.ts";
import { openBenchModel } from "../lib/bench/open.ts";
import { formatTarget, targetChecks } from "../lib/bench/targets.ts";
import { intOption, parseCli, runCli, threadsOption } from "../lib/cli.ts";
import { writeFileAtomic } from "../lib/fsutil.ts";
import { Progress } from "../lib/progress.ts";
import { shapeConfig, syntheticWeights } from "../lib/synthetic.ts";
import { prepareOutputDir } from "../lib/output.ts";
import { userPath } from "../lib/paths.ts";
import { checkCacheDir } from "../lib/cache.ts";

const USAGE =
  `usage: deno task bench-targets [--size 130m] [--methods quamba,w8a8,quamba-head8] [--prompt 512] [--steps 32] [--rounds 10] [--threads N] [--out DIR] [--force]`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    size: { type: "string" },
    methods: { type: "string" },
    prompt: { type: "string" },
    steps: { type: "string" },
    rounds: { type: "string" },
    threads: { type: "string" },
    out: { type: "string" },
    force: { type: "boolean" },
  }, USAGE);
  const s = o.size ?? "130m", size = s.startsWith("mamba-") ? s : `mamba-${s}`;
  const int8 = (o.methods ?? "quamba,w8a8,quamba-head8").split(",").filter(Boolean);
  int8.forEach(checkMethod);
  const prompt = intOption(o.prompt, "prompt", 512), steps = intOption(o.steps, "steps", 32);
  const rounds = intOption(o.rounds, "rounds", 10);
  const threads = threadsOption(o.threads);
  const out = await prepareOutputDir(userPath(o.out ?? "reports/bench"), "bench", {
    force: o.force,
  });
  await checkCacheDir();
  const cfg = shapeConfig(size), env = benchEnv();
  console.log(`environment: ${envLine(env)}`);
  const methods = ["fp32", ...int8];
  const floors: Record<string, number> = {};
  const load0 = await foreignLoad(1000);
  const bw = await copyBandwidth({ threads: threads ?? env.cores });
  console.log(`copy bandwidth: ${(bw.bytesPerSecond / 1e9).toFixed(1)} GB/s (read + write)`);
  const models = [];
  for (const method of methods) {
    const dir = benchCacheDir(size, method);
    await ensureBenchGraphs(dir, cfg, syntheticWeights(cfg), method, size);
    const ins = await inspectModel(dir, "cpu", threads);
    floors[method] = bandwidthFloor({
      weightBytes: ins.decodeBytesPerToken,
      stateBytes: stateBytes(cfg),
      bytesPerSecond: bw.bytesPerSecond,
    }).floorMs;
    models.push(
      await openBenchModel(dir, { config: cfg, source: size, method }, "cpu", { threads }),
    );
  }
  const bar = new Progress("interleaved rounds", rounds + 1);
  const results = await interleaved(models, { prompt, steps, rounds, onRound: () => bar.tick() });
  bar.done();
  for (const m of models) await m.close();
  const load1 = await foreignLoad(1000);
  const timing = results.map((r) => ({
    method: r.method,
    ttft: r.ttft.median,
    tpot: r.tpot.median,
    floorMs: floors[r.method],
  }));
  console.log(
    `${size}, prompt ${prompt}, ${rounds} rounds of one prefill and ${steps} decode steps per ` +
      `model (medians; p90 in brackets), threads ${threads ?? "all"}:`,
  );
  for (const r of results) {
    console.log(
      `  ${r.method.padEnd(13)} TTFT ${r.ttft.median.toFixed(1)} ms [${r.ttft.p90.toFixed(1)}]` +
        `  TPOT ${r.tpot.median.toFixed(2)} ms [${r.tpot.p90.toFixed(2)}]  floor ${
          floors[r.method].toFixed(2)
        } ms (${(r.tpot.median / floors[r.method]).toFixed(2)}x)`,
    );
  }
  const checks = targetChecks(size, timing[0], timing.slice(1));
  console.log("targets:");
  for (const t of checks) console.log(`  ${formatTarget(t)}`);
  console.log(
    `other processes' load (cores): ${load0?.toFixed(2) ?? "?"} before, ${
      load1?.toFixed(2) ?? "?"
    } after`,
  );
  await writeFileAtomic(
    join(out, "targets.json"),
    JSON.stringify(
      {
        env,
        settings: { size, prompt, steps, rounds, threads: threads ?? env.cores },
        bandwidth: bw,
        foreignLoad: { before: load0, after: load1 },
        results,
        floors,
        checks,
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${join(out, "targets.json")}`);
});
