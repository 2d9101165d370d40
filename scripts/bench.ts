/**
 * Latency and memory of generation (issue 6): TTFT, TPOT, TTLT per model size and method, the
 * bandwidth floor of a decode step, and the CPU targets as ratios measured in one run.
 *
 *   deno task bench --sizes 130m,370m --methods fp32,quamba --ep cpu --prompt 512 --gen 512
 */
import { join, resolve } from "node:path";
import { writeArrowFile } from "../lib/arrow.ts";
import { type Bandwidth, bandwidthFloor, copyBandwidth } from "../lib/bench/bandwidth.ts";
import { benchEnv, envLine, foreignLoad } from "../lib/bench/env.ts";
import {
  BENCH_METHODS,
  benchCacheDir,
  checkMethod,
  ensureBenchGraphs,
  FIXED_ACT_SCALE,
} from "../lib/bench/graphs.ts";
import { inspectModel } from "../lib/bench/inspect.ts";
import type { Summary } from "../lib/bench/latency.ts";
import { measureIsolated, measureOne, type MeasureSpec } from "../lib/bench/measure.ts";
import { stateBytes } from "../lib/bench/memory.ts";
import {
  type BenchRow,
  bitsOf,
  formatMarkdown,
  formatTable,
  rowsTable,
} from "../lib/bench/table.ts";
import {
  checkTargets,
  formatTarget,
  GPU_TARGETS,
  type TargetCheck,
  targetChecks,
} from "../lib/bench/targets.ts";
import { epOverhead } from "../lib/bench/kernels.ts";
import { interleaved, type InterleavedResult } from "../lib/bench/interleaved.ts";
import { openBenchModel } from "../lib/bench/open.ts";
import { Progress } from "../lib/progress.ts";
import { sha256 } from "../lib/cache.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { intOption, parseCli, runCli, threadsOption } from "../lib/cli.ts";
import type { ModelConfig } from "../lib/arch/registry.ts";
import { JAMBA_SHAPES, jambaShapeConfig } from "../lib/arch/jamba/shapes.ts";
import { MAMBA2_SHAPES, mamba2ShapeConfig } from "../lib/arch/mamba2/shapes.ts";
import { KitError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fsutil.ts";
import type { WeightSource } from "../lib/arch/mamba/graph.ts";
import { latencyPlot, scalingPlot } from "../lib/plots/latency.ts";
import { tpotFloorPlot } from "../lib/plots/floor.ts";
import { svgToPng } from "../lib/plots/png.ts";
import { parseEp } from "../lib/runtime.ts";
import { MAMBA_SHAPES, shapeConfig, syntheticWeights } from "../lib/synthetic.ts";
import { prepareOutputDir } from "../lib/output.ts";
import { userPath } from "../lib/paths.ts";
import { checkCacheDir } from "../lib/cache.ts";
import { graphOptions, maxPrefillOf } from "../lib/model.ts";
import { archOfConfig } from "../lib/arch/registry.ts";

const USAGE = `Latency (TTFT, TPOT, TTLT) and memory of fp and int8 graphs.

usage: deno task bench [options]
  --sizes LIST      family shapes with seeded random weights: 130m,370m,790m,1.4b,2.8b (Mamba)
                    mamba2-130m,mamba2-370m,mamba2-780m,mamba2-1.3b,mamba2-2.7b (Mamba-2),
                    jamba-300m,jamba-1b (default 130m; latency does not depend on the values)
  --model DIR       also a checkpoint folder (int8 methods use fixed activation scales: timing only)
  --methods LIST    ${Object.keys(BENCH_METHODS).join(",")} (default fp32,quamba)
  --ep NAME         cpu (default), webgpu, cuda
  --prompt N        prompt tokens (default 512)
  --gen N           generated tokens (default 512)
  --warmup N        untimed generations first (default 1; the paper: 10)
  --repeats N       timed generations (default 3; the paper: 100)
  --threads N       onnxruntime intra-op threads (default: all cores)
  --scaling LIST    also TTFT alone at these prompt lengths, e.g. 128,512,2048
  --all-logits      prefill computes the logits of every position (default: the last only)
  --no-fold         keep the int8 graphs' DequantizeLinear of conv1d, A_log, D, dt bias at run
                    time, exactly as lib/quant builds them (default: stored dequantized)
  --out DIR         where to write bench.{json,arrow} and the figures (default reports/bench);
                    a new or empty folder, or one a bench run wrote
  --force           write into --out even if it holds files the kit did not write
  --no-bandwidth    skip the copy benchmark (no bandwidth floor)
  --bandwidth B     the floor's bandwidth in bytes/s instead of a copy benchmark (GPU EPs: the
                    card's, e.g. 4.8e12 for an H200; without it GPU rows have no floor)
  --max-load X      before each measurement, wait while other processes keep more than X
                    cores busy (default 0.3; the load is recorded with every row)
  --interleaved N   rounds of the interleaved measurement of the targets' ratios on mamba-130m
                    (or, without it, on the first model)
                    (default 10; 0: none)
  --scan NAME       the mixers' scan: sequential (the CPU's default: an ONNX Scan), parallel (GPU
                    EPs' default: doubling steps over 256-token pieces) or fused (onnxruntime's
                    CausalConvWithState and LinearAttention contrib operators)
  --loop MODE       on: time generation through the device loop (the graphs choose each token,
                    states stay in two device buffer sets, decode steps captured as CUDA graphs /
                    WebGPU graph capture and replayed; the host reads the ids); off: through
                    Model.prefill/decode; default on for GPU EPs, off for the CPU
  --in-process      measure in this process (default: each model and method in a fresh process,
                    so that its peak RSS is its own)
  --wait S          wait at most S seconds for that (default 300), then measure anyway`;

interface ModelEntry {
  name: string;
  config: ModelConfig;
  src: WeightSource;
  weights: string;
  key: string;
}

async function models(sizes: string[], dir?: string): Promise<ModelEntry[]> {
  const out: ModelEntry[] = sizes.map((s) => {
    if (JAMBA_SHAPES[s]) {
      const config = jambaShapeConfig(s);
      return { name: s, config, src: syntheticWeights(config), weights: "synthetic", key: s };
    }
    if (MAMBA2_SHAPES[s]) {
      const config = mamba2ShapeConfig(s);
      return { name: s, config, src: syntheticWeights(config), weights: "synthetic", key: s };
    }
    const name = s.startsWith("mamba-") ? s : `mamba-${s}`;
    if (!MAMBA_SHAPES[name]) {
      throw new KitError(
        `unknown size '${s}' (known: ${
          [
            ...Object.keys(MAMBA_SHAPES),
            ...Object.keys(MAMBA2_SHAPES),
            ...Object.keys(JAMBA_SHAPES),
          ]
            .join(", ")
        })`,
      );
    }
    const config = shapeConfig(name);
    return { name, config, src: syntheticWeights(config), weights: "synthetic", key: name };
  });
  if (dir) {
    const ckpt = await openCheckpoint(dir);
    const key = `ckpt-${(await sha256(resolve(dir))).slice(0, 12)}`;
    out.push({
      name: dir,
      config: ckpt.config,
      src: ckpt.src,
      weights: resolve(dir),
      key,
    });
  }
  return out;
}

const list = (s: string | undefined, d: string) =>
  (s ?? d).split(",").map((x) => x.trim()).filter(Boolean);

await runCli(async () => {
  const o = parseCli(Deno.args, {
    sizes: { type: "string" },
    model: { type: "string" },
    methods: { type: "string" },
    ep: { type: "string" },
    prompt: { type: "string" },
    gen: { type: "string" },
    warmup: { type: "string" },
    repeats: { type: "string" },
    threads: { type: "string" },
    scaling: { type: "string" },
    "all-logits": { type: "boolean" },
    out: { type: "string" },
    "no-bandwidth": { type: "boolean" },
    bandwidth: { type: "string" },
    "no-fold": { type: "boolean" },
    "max-load": { type: "string" },
    "in-process": { type: "boolean" },
    loop: { type: "string" },
    scan: { type: "string" },
    interleaved: { type: "string" },
    wait: { type: "string" },
    force: { type: "boolean" },
  }, USAGE);
  const inProcess = !!o["in-process"];
  const scan = o.scan as "sequential" | "parallel" | "fused" | undefined;
  if (scan !== undefined && !["sequential", "parallel", "fused"].includes(scan)) {
    throw new KitError(`--scan must be sequential, parallel or fused, got '${o.scan}'`);
  }
  if (o.loop !== undefined && !["on", "off"].includes(o.loop)) {
    throw new KitError(`--loop must be on or off, got '${o.loop}'`);
  }
  const rounds = intOption(o.interleaved, "interleaved", 10);
  const maxLoad = Number(o["max-load"] ?? 0.3), maxWait = intOption(o.wait, "wait", 300);
  /** Waits for the other processes to quiet down; returns their load when measuring starts. */
  const quiet = async (what: string) => {
    const t0 = performance.now();
    let load = await foreignLoad(1000);
    while (load !== undefined && load > maxLoad && performance.now() - t0 < maxWait * 1000) {
      console.error(`  other processes keep ${load.toFixed(2)} cores busy: waiting before ${what}`);
      await new Promise((r) => setTimeout(r, 10_000));
      load = await foreignLoad(2000);
    }
    return load;
  };
  const ep = parseEp(o.ep ?? "cpu");
  const methods = list(o.methods, "fp32,quamba");
  methods.forEach(checkMethod);
  const prompt = intOption(o.prompt, "prompt", 512), gen = intOption(o.gen, "gen", 512);
  const warmup = intOption(o.warmup, "warmup", 1), repeats = intOption(o.repeats, "repeats", 3);
  if (prompt < 1 || gen < 1 || repeats < 1) {
    throw new KitError("--prompt, --gen, --repeats must be >= 1");
  }
  const threads = threadsOption(o.threads);
  const scaling = list(o.scaling, "").map((s) => intOption(s, "scaling", 0, { min: 1 }));
  const lastLogits = !o["all-logits"], foldParams = !o["no-fold"];
  const modelDir = o.model ? userPath(o.model) : undefined;
  const outDir = await prepareOutputDir(userPath(o.out ?? "reports/bench"), "bench", {
    force: o.force,
    inputs: modelDir ? [modelDir] : [],
  });
  await checkCacheDir();
  const entries = await models(o.sizes || !o.model ? list(o.sizes, "130m") : [], modelDir);

  const env = benchEnv();
  console.log(`environment: ${envLine(env)}`);
  const load0 = await quiet("the copy benchmark");
  console.log(`other processes keep ${load0?.toFixed(2) ?? "?"} of ${env.cores} cores busy`);
  let bw: Bandwidth | undefined;
  if (o.bandwidth !== undefined) {
    const b = Number(o.bandwidth);
    if (!(b > 0)) throw new KitError(`--bandwidth: '${o.bandwidth}' is not bytes per second`);
    bw = { bytesPerSecond: b, medianBytesPerSecond: b, threads: 0, bufferBytes: 0 };
    console.log(`bandwidth for the floor: ${(b / 1e12).toFixed(2)} TB/s (given)`);
  } else if (!o["no-bandwidth"] && ep === "cpu") {
    bw = await copyBandwidth({ threads: threads ?? env.cores });
    console.log(
      `copy bandwidth (${bw.threads} threads, read + write): ${
        (bw.bytesPerSecond / 1e9).toFixed(1)
      } GB/s ` +
        `(median ${(bw.medianBytesPerSecond / 1e9).toFixed(1)})`,
    );
  }
  console.log(
    `settings: prompt ${prompt}, gen ${gen}, ${warmup} warm-up + ${repeats} timed generations, ` +
      `threads ${threads ?? "all"}, ${
        lastLogits ? "last-position" : "all-position"
      } prefill logits, int8 parameters ${
        foldParams ? "stored dequantized" : "dequantized at run time"
      }`,
  );
  if (entries.some((e) => e.weights === "synthetic")) {
    console.log("weights: seeded random values of each shape (latency does not depend on them)");
  }
  if (methods.some((m) => bitsOf(m).startsWith("W8"))) {
    console.log(`int8 graphs: fixed activation scales (${FIXED_ACT_SCALE}), no calibration`);
  }

  const overhead = await epOverhead(ep);
  console.log(
    `${ep}: ${overhead.runMs.toFixed(3)} ms fixed cost per run, ${
      overhead.kernelUs.toFixed(1)
    } µs per kernel (a chain of ${overhead.chain} Add/Mul over ${overhead.width} floats)`,
  );
  const base = ep !== "cpu" && methods.includes("fp16") ? "fp16" : "fp32";
  const rows: BenchRow[] = [];
  const scalingRows: { model: string; method: string; prompt: number; ttft: Summary }[] = [];
  for (const m of entries) {
    for (const method of methods) {
      const variant = { lastLogits, foldParams, ep, scan };
      const dir = benchCacheDir(m.key, method, variant);
      await ensureBenchGraphs(dir, m.config, m.src, method, m.name, variant);
      const ins = await inspectModel(dir, ep, threads);
      const load = await quiet(`${m.name} ${method}`);
      const spec: MeasureSpec = {
        dir,
        config: m.config,
        model: m.name,
        method,
        ep,
        threads,
        prompt,
        gen,
        warmup,
        repeats,
        scaling,
        kernels: ep !== "cpu",
        // the device loop needs states of fixed size (not attention caches)
        loop: (o.loop === undefined ? ep !== "cpu" : o.loop === "on") &&
          !archOfConfig(m.config).stateLayout(m.config).some((t) => t.grows),
        // (JSON to the child: Infinity would arrive as null)
        maxPrefill:
          Number.isFinite(maxPrefillOf(graphOptions("fp32", ep, scan, m.config), m.config))
            ? maxPrefillOf(graphOptions("fp32", ep, scan, m.config), m.config)
            : undefined,
      };
      const res = inProcess ? await measureOne(spec) : await measureIsolated(spec);
      const { latency } = res;
      for (const r of res.scaling) {
        scalingRows.push({ model: m.name, method, ...r });
        console.log(
          `  TTFT at ${r.prompt} tokens: ${r.ttft.mean.toFixed(1)} ms (median ${
            r.ttft.median.toFixed(1)
          })`,
        );
      }
      const loadAfter = await foreignLoad(1000);
      const peak = res.peakRssBytes;
      const sb = stateBytes(m.config, 1, prompt + gen); // attention caches: at the end
      const floor = bw
        ? bandwidthFloor({
          weightBytes: ins.decodeBytesPerToken,
          stateBytes: sb,
          bytesPerSecond: bw.bytesPerSecond,
          stepMs: latency.tpot.mean,
        })
        : undefined;
      const row: BenchRow = {
        model: m.name,
        method,
        weights: m.weights,
        bits: bitsOf(method, ep),
        weightBytes: ins.weightBytes,
        stateBytes: sb,
        decodeBytesPerToken: ins.decodeBytesPerToken,
        peakRssBytes: peak,
        loadedRssBytes: res.loadedRssBytes,
        baseRssBytes: res.baseRssBytes,
        latency,
        floorMs: floor?.floorMs,
        floorRatio: floor?.ratio,
        foreignLoad: load,
        foreignLoadAfter: loadAfter,
        fusedPrefill: ins.prefill.fused,
        fusedDecode: ins.decode.fused,
        nodesDecode: ins.decode.nodes,
        kernelsPerStep: res.kernels?.perStep,
        loop: res.loop,
        loopError: res.loopError,
        scan: scan ?? graphOptions("fp32", ep, undefined, m.config).scan,
        kernelsOffload: res.kernels?.offload,
      };
      rows.push(row);
      // each row as soon as it is measured (a run cut short keeps what it measured)
      await Deno.mkdir(outDir, { recursive: true });
      await Deno.writeTextFile(join(outDir, "rows.jsonl"), JSON.stringify(row) + "\n", {
        append: rows.length > 1,
      });
      console.log(
        `  TTFT ${latency.ttft.mean.toFixed(1)} ms, TPOT ${latency.tpot.mean.toFixed(2)} ms` +
          (floor ? ` (floor ${floor.floorMs.toFixed(2)} ms, ${floor.ratio!.toFixed(2)}x)` : "") +
          `, TTLT ${(latency.ttlt.mean / 1000).toFixed(2)} s; ${
            res.kernels?.perStep ?? ins.decode.nodes
          } ${res.kernels ? "kernels" : "nodes"} per decode step; ` +
          `other load ${load?.toFixed(2) ?? "?"} before, ${loadAfter?.toFixed(2) ?? "?"} after`,
      );
    }
  }
  console.log();
  console.log(formatTable(rows, base));
  const targets = ep === "cpu" ? checkTargets(rows) : gpuTargets(rows, scalingRows);
  if (targets.length) {
    console.log(
      `\n${ep === "cpu" ? "CPU" : "GPU"} targets (issue 6), from the table (means of whole ` +
        `generations${ep === "cpu" ? "" : "; TTFT at 2048 tokens where --scaling has it"}):`,
    );
    for (const t of targets) console.log(`  ${formatTarget(t)}`);
  }
  if (ep !== "cpu") {
    for (const r of rows) {
      console.log(
        `  ${r.model} ${r.method}: decode ${r.latency.tpot.mean.toFixed(2)} ms = ${
          r.floorRatio?.toFixed(1) ?? "?"
        }x the floor; ${r.kernelsPerStep?.toFixed(0) ?? "?"} kernels x ${
          overhead.kernelUs.toFixed(1)
        } µs + ${overhead.runMs.toFixed(2)} ms per run = ${
          ((r.kernelsPerStep ?? NaN) * overhead.kernelUs / 1000 + overhead.runMs).toFixed(2)
        } ms of launch cost` +
          (Object.keys(r.kernelsOffload ?? {}).length
            ? `; off the EP: ${JSON.stringify(r.kernelsOffload)}`
            : ""),
      );
    }
  }
  // the same ratios measured interleaved (robust to bursts of other processes' load)
  const inter:
    | { model: string; rounds: number; steps: number; results: InterleavedResult[] }
    | undefined = await (async () => {
      // the issue's targets are mamba-130m's; without it, the first model (e.g. jamba-300m)
      const m = entries.find((e) => e.name === "mamba-130m") ?? entries[0];
      const int8 = methods.filter((x) => bitsOf(x).startsWith("W8"));
      if (!m || ep !== "cpu" || !methods.includes("fp32") || !int8.length || rounds === 0) {
        return undefined;
      }
      const open = ["fp32", ...int8];
      const models = await Promise.all(
        open.map((method) =>
          openBenchModel(
            benchCacheDir(m.key, method, { lastLogits, foldParams }),
            {
              config: m.config,
              source: m.name,
              method,
            },
            ep,
            { threads },
          )
        ),
      );
      await quiet("the interleaved measurement");
      const bar = new Progress("interleaved rounds", rounds + 1);
      const results = await interleaved(models, {
        prompt,
        steps: 32,
        rounds,
        onRound: () => bar.tick(),
      });
      bar.done();
      for (const x of models) await x.close();
      return { model: m.name, rounds, steps: 32, results };
    })();
  let interTargets: ReturnType<typeof targetChecks> = [];
  if (inter) {
    const timing = (x: InterleavedResult) => {
      const row = rows.find((r) => r.model === inter.model && r.method === x.method);
      return { method: x.method, ttft: x.ttft.median, tpot: x.tpot.median, floorMs: row?.floorMs };
    };
    const [fp, ...q] = inter.results.map(timing);
    // the issue's targets are mamba-130m's: other models get their speed-ups only
    if (inter.model === "mamba-130m") interTargets = targetChecks(inter.model, fp, q);
    console.log(
      `\n${inter.model === "mamba-130m" ? "CPU targets" : inter.model}, interleaved ` +
        `(${inter.rounds} rounds of one prefill of ${prompt} tokens and ` +
        `${inter.steps} decode steps per model, medians):`,
    );
    for (const x of inter.results) {
      console.log(
        `  ${x.method.padEnd(13)} TTFT ${x.ttft.median.toFixed(1)} ms, TPOT ${
          x.tpot.median.toFixed(2)
        } ms`,
      );
    }
    for (const t of interTargets) console.log(`  ${formatTarget(t)}`);
    if (inter.model !== "mamba-130m") {
      for (const x of q) {
        console.log(
          `  ${x.method}: ${(fp.ttft / x.ttft).toFixed(2)}x TTFT, ${
            (fp.tpot / x.tpot).toFixed(2)
          }x TPOT vs ${fp.method}`,
        );
      }
    }
  }
  const load1 = await foreignLoad(1000);
  console.log(
    `\nother processes' load: ${load0?.toFixed(2) ?? "?"} before, ${
      load1?.toFixed(2) ?? "?"
    } after (cores)`,
  );

  const settings = {
    ep,
    prompt,
    gen,
    warmup,
    repeats,
    threads: threads ?? env.cores,
    lastLogits,
    foldParams,
    maxLoad,
    fixedActScale: FIXED_ACT_SCALE,
  };
  const meta = {
    settings,
    env,
    bandwidth: bw,
    bandwidthGiven: o.bandwidth !== undefined,
    overhead,
    foreignLoad: { before: load0, after: load1 },
  };
  await writeFileAtomic(
    join(outDir, "bench.json"),
    JSON.stringify(
      {
        ...meta,
        rows,
        targets,
        interleaved: inter,
        interleavedTargets: interTargets,
        scaling: scalingRows,
      },
      null,
      2,
    ),
  );
  await writeFileAtomic(join(outDir, "bench.md"), formatMarkdown(rows, base) + "\n");
  await writeArrowFile(join(outDir, "bench.arrow"), rowsTable(rows), {
    settings: JSON.stringify(settings),
    env: JSON.stringify(env),
    bandwidth: JSON.stringify(bw ?? null),
  });
  const figs: [string, string][] = [[
    "latency",
    latencyPlot(rows, { env: envLine(env, false), settings, base, ep }),
  ]];
  if (scalingRows.length) {
    figs.push(["prefill_scaling", scalingPlot(scalingRows, { env: envLine(env, false) })]);
  }
  if (rows.some((r) => r.floorMs !== undefined)) {
    const tbs = bw ? `${(bw.bytesPerSecond / 1e12).toFixed(2)} TB/s` : undefined;
    figs.push(["tpot_floor", tpotFloorPlot(rows, { ep, bandwidth: tbs })]);
  }
  for (const [name, svg] of figs) {
    await writeFileAtomic(join(outDir, `${name}.svg`), svg);
    await writeFileAtomic(join(outDir, `${name}.png`), svgToPng(svg));
  }
  console.log(
    `wrote ${outDir}/bench.json, bench.arrow, bench.md, ${
      figs.map(([n]) => `${n}.svg/png`).join(", ")
    }`,
  );
});

/** The GPU targets on the largest size measured (the issue's: mamba-2.8b), TTFT at 2048 tokens. */
function gpuTargets(
  rows: BenchRow[],
  scaling: { model: string; method: string; prompt: number; ttft: Summary }[],
): TargetCheck[] {
  const model = ["mamba-2.8b", "mamba-1.4b", "mamba-790m", "mamba-370m", "mamba-130m"]
    .find((m) => rows.some((r) => r.model === m));
  if (!model) return [];
  const at2048 = (method: string) =>
    scaling.find((x) => x.model === model && x.method === method && x.prompt === 2048)?.ttft.mean;
  return checkTargets(rows, model, GPU_TARGETS, at2048);
}
