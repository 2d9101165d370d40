/**
 * What decides decode speed on an execution provider: the fixed cost of a run, the cost of a
 * kernel, the kernels a decode step launches (and which fall back to the CPU), the cost of
 * copying the recurrent states out and back in at every step (all outputs fetched vs the logits
 * only), and whether the states can stay on the GPU between runs (`gpu-buffer` outputs, tried in
 * a child process, since onnxruntime-node has aborted the process on it).
 *
 *   deno task probe-ep --ep webgpu [--size mamba-130m] [--methods fp32,fp16,quamba-nbits] [--out DIR]
 */
import { join } from "node:path";
import { benchCacheDir, checkMethod, ensureBenchGraphs } from "../lib/bench/graphs.ts";
import { epOverhead, profileDecodeKernels, zeroDecodeFeeds } from "../lib/bench/kernels.ts";
import { OnnxModel } from "../lib/model.ts";
import { openBenchModel } from "../lib/bench/open.ts";
import { promptIds } from "../lib/bench/latency.ts";
import { intOption, parseCli, runCli } from "../lib/cli.ts";
import type { MambaConfig } from "../lib/arch/mamba/config.ts";
import { writeFileAtomic } from "../lib/fsutil.ts";
import { createSession, type Ep, parseEp, type Tensor } from "../lib/runtime.ts";
import { ortLibrary } from "../lib/ort/mod.ts";
import { summarize } from "../lib/stats_time.ts";
import { shapeConfig, syntheticWeights } from "../lib/synthetic.ts";
import { TASK_PERMISSIONS } from "../lib/paths.ts";
import { prepareOutputDir } from "../lib/output.ts";
import { userPath } from "../lib/paths.ts";
import { checkCacheDir } from "../lib/cache.ts";

const USAGE =
  `usage: deno task probe-ep [--ep webgpu] [--size mamba-130m] [--methods fp32,fp16,quamba-nbits] [--steps 20] [--out DIR] [--force]`;

/** Decode steps with every output fetched to the host, then with the logits only. */
async function fetchCost(
  dir: string,
  cfg: MambaConfig,
  ep: Ep,
  steps: number,
  webgpu?: Record<string, string>,
) {
  const s = await createSession(join(dir, "decode.onnx"), ep, { webgpu });
  const feeds = zeroDecodeFeeds(cfg);
  const time = async (fetches?: string[]) => {
    const xs: number[] = [];
    for (let i = 0; i < steps + 3; i++) {
      const t = performance.now();
      await (fetches ? s.run(feeds, fetches) : s.run(feeds));
      if (i >= 3) xs.push(performance.now() - t);
    }
    return summarize(xs).median;
  };
  const all = await time(), logitsOnly = await time(["logits"]);
  await s.release();
  return { allOutputsMs: all, logitsOnlyMs: logitsOnly };
}

/** Decode steps whose states stay on the GPU (`gpu-buffer` outputs fed back as inputs). */
async function gpuBufferSteps(dir: string, cfg: MambaConfig, ep: Ep, steps: number) {
  const L = cfg.num_hidden_layers;
  const loc = OnnxModel.deviceStateLocations(cfg);
  const s = await createSession(join(dir, "decode.onnx"), ep, { outputLocation: loc });
  let feeds = zeroDecodeFeeds(cfg);
  const xs: number[] = [];
  let logits0 = NaN;
  for (let i = 0; i < steps + 3; i++) {
    const t = performance.now();
    const out = await s.run(feeds);
    if (i >= 3) xs.push(performance.now() - t);
    logits0 = (out.logits.data as Float32Array)[0];
    const next: Record<string, Tensor> = { input_ids: feeds.input_ids };
    for (let l = 0; l < L; l++) {
      next[`past_conv.${l}`] = out[`present_conv.${l}`] as Tensor;
      next[`past_ssm.${l}`] = out[`present_ssm.${l}`] as Tensor;
    }
    if (i > 0) { for (const [k, v] of Object.entries(feeds)) if (k !== "input_ids") v.dispose(); }
    feeds = next;
  }
  await s.release();
  return { stepMs: summarize(xs).median, logits0 };
}

await runCli(async () => {
  const o = parseCli(Deno.args, {
    ep: { type: "string" },
    size: { type: "string" },
    methods: { type: "string" },
    steps: { type: "string" },
    out: { type: "string" },
    "gpu-buffer-child": { type: "string" },
    force: { type: "boolean" },
  }, USAGE);
  const ep = parseEp(o.ep ?? "webgpu");
  const size = o.size ?? "mamba-130m", steps = intOption(o.steps, "steps", 20);
  const cfg = shapeConfig(size);
  if (o["gpu-buffer-child"]) {
    console.log(JSON.stringify(await gpuBufferSteps(o["gpu-buffer-child"], cfg, ep, steps)));
    return;
  }
  const methods = (o.methods ?? "fp32,fp16,quamba-nbits").split(",");
  methods.forEach(checkMethod);
  const out = await prepareOutputDir(userPath(o.out ?? "reports/probe"), "probe-ep", {
    force: o.force,
  });
  await checkCacheDir();
  const overhead = await epOverhead(ep);
  if (ep === "webgpu") {
    const o2 = await epOverhead(ep, { webgpu: { validationMode: "disabled" } });
    console.log(`validationMode disabled: ${JSON.stringify(o2)}`);
  }
  console.log(
    `${ep}: ${overhead.runMs.toFixed(3)} ms per run, ${
      overhead.kernelUs.toFixed(1)
    } µs per kernel (chain of ${overhead.chain} over ${overhead.width} floats)`,
  );
  const results: Record<string, unknown>[] = [];
  for (const method of methods) {
    const dir = benchCacheDir(size, method, { ep });
    await ensureBenchGraphs(dir, cfg, syntheticWeights(cfg), method, size, { ep });
    const kernels = await profileDecodeKernels(dir, cfg, ep);
    const fetch = await fetchCost(dir, cfg, ep, steps);
    const noValidation = ep === "webgpu"
      ? await fetchCost(dir, cfg, ep, steps, { validationMode: "disabled" })
      : undefined;
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...TASK_PERMISSIONS,
        import.meta.filename!,
        "--ep",
        ep,
        "--size",
        size,
        "--steps",
        `${steps}`,
        "--gpu-buffer-child",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(child.stdout).trim().split("\n").at(-1) ?? "";
    const gpuBuffer = child.success
      ? JSON.parse(text)
      : { failed: child.code, stderr: new TextDecoder().decode(child.stderr).slice(-600) };
    const model = await openBenchModel(dir, { config: cfg, source: size, method }, ep);
    const prefill: Record<number, number> = {};
    for (const L of [128, 256, 512, 2048]) {
      const ids = promptIds(L, cfg.vocab_size);
      await model.prefill([ids]);
      const xs: number[] = [];
      for (let r = 0; r < 2; r++) {
        const t = performance.now();
        await model.prefill([ids]);
        xs.push(performance.now() - t);
      }
      prefill[L] = summarize(xs).median;
    }
    await model.close();
    const r = { method, kernels, fetch, noValidation, gpuBuffer, prefillMs: prefill };
    results.push(r);
    console.log(JSON.stringify(r));
  }
  await writeFileAtomic(
    join(out, `probe_${ep}_${size}.json`),
    JSON.stringify({ ep, size, overhead, ortVersion: ortLibrary().version, results }, null, 2),
  );
});
