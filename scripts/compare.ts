/**
 * What quantization changes, measured where accuracy cannot: per-token KL from the fp32 model,
 * top-1 agreement and the change in log-perplexity on held-out text, with bootstrap intervals;
 * optionally the per-tensor sensitivity and the percentile / Hadamard ablation.
 *
 *   deno task compare --methods fp16,w8a8,quamba [--sensitivity] [--out DIR]
 */
import { join } from "node:path";
import { checkCacheDir } from "../lib/cache.ts";
import {
  intOption,
  listOption,
  numberOption,
  parseCli,
  runCli,
  threadsOption,
} from "../lib/cli.ts";
import { loadCalibration } from "../lib/calibration.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { KitError } from "../lib/errors.ts";
import { loadModel } from "../lib/model.ts";
import { exists } from "../lib/fsutil.ts";
import { prepareOutputDir } from "../lib/output.ts";
import { DEFAULT_CALIBRATION, DEFAULT_HELDOUT, EMBEDDED_MODEL, userPath } from "../lib/paths.ts";
import { formatSeconds } from "../lib/progress.ts";
import { METHOD_NAMES, methodSpec } from "../lib/quant/methods.ts";
import { quantize } from "../lib/quant/quantize.ts";
import { estimateText } from "../lib/quality/bootstrap.ts";
import { QUALITY_MANIFEST, runQuality } from "../lib/quality/report.ts";
import { ABLATION_PERCENTILES } from "../lib/quality/sensitivity.ts";
import { markdownTable } from "../lib/reproduce/tables.ts";
import { klDisplayRows } from "../lib/quality/tables.ts";
import { modelName } from "../lib/reproduce/grid.ts";
import { parseEp } from "../lib/runtime.ts";
import { collectStats } from "../lib/stats/collect.ts";
import type { StatsView } from "../lib/stats/view.ts";

const DEFAULT_METHODS = METHOD_NAMES.filter((m) => m !== "fp32");

const USAGE = `Compare quantization methods with the fp32 model on held-out text.

usage: deno task compare [options]

  --model DIR             checkpoint folder (default: the embedded model)
  --methods LIST          comma-separated (default: ${DEFAULT_METHODS.join(",")})
  --text FILE             held-out text (default: data/heldout/time_machine.txt, The Time Machine)
  --tokens N              tokens scored per method, in whole windows (default 8192)
  --window N              tokens per window, each from a fresh state (default 256)
  --resamples N           bootstrap draws over windows (default 1000)
  --seed N                bootstrap seed (default 20250127)
  --calib FILE            calibration text (default: the shipped WikiText-2 validation sample)
  --samples N             calibration samples (default 512, or as many as the text holds)
  --percentile P          percentile of |u| for clipping methods (default 99.999)
  --sensitivity           also per-tensor sensitivity (layers × tensors) and the ablation
  --sensitivity-tokens N  tokens per sensitivity variant (default 4096)
  --out DIR               default: reports/compare-<model>
  --force                 write into an --out that holds other files
  --ep NAME               cpu (default), webgpu, cuda
  --threads N             onnxruntime threads

Writes kl.{md,csv,json,arrow} (KL mean, median, p90, p99, max, top-1 agreement, change in
log-perplexity, each with a 95% interval), kl_positions.*, kl_tokens.arrow, comparison.json,
figures/kl_distribution.{svg,png}, figures/kl_by_position.{svg,png}; with --sensitivity also
sensitivity.*, ablation.* and figures/sensitivity_heatmap.*, figures/ablation.*.`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    model: { type: "string" },
    methods: { type: "string" },
    text: { type: "string" },
    tokens: { type: "string" },
    window: { type: "string" },
    resamples: { type: "string" },
    seed: { type: "string" },
    calib: { type: "string" },
    samples: { type: "string" },
    percentile: { type: "string" },
    sensitivity: { type: "boolean" },
    "sensitivity-tokens": { type: "string" },
    out: { type: "string" },
    force: { type: "boolean" },
    ep: { type: "string" },
    threads: { type: "string" },
  }, USAGE);
  const modelDir = o.model ? userPath(o.model) : EMBEDDED_MODEL;
  const methods = listOption(o.methods, "methods", METHOD_NAMES) ?? DEFAULT_METHODS;
  const percentile = numberOption(o.percentile, "percentile", 99.999, {
    min: 90,
    max: 100,
    why: "Quamba uses 99.999",
  });
  const tokens = intOption(o.tokens, "tokens", 8192, { min: 1 });
  const window = intOption(o.window, "window", 256, { min: 2 });
  const sensTokens = intOption(o["sensitivity-tokens"], "sensitivity-tokens", 4096, { min: 1 });
  const resamples = intOption(o.resamples, "resamples", 1000, { min: 1 });
  const seed = intOption(o.seed, "seed", 20250127);
  const ep = parseEp(o.ep ?? "cpu");
  const threads = threadsOption(o.threads);
  const textFile = o.text ? userPath(o.text) : DEFAULT_HELDOUT;
  const calibFile = o.calib ? userPath(o.calib) : undefined;
  const out = await prepareOutputDir(
    userPath(o.out ?? join("reports", `compare-${modelName(modelDir)}`)),
    "compare",
    {
      force: o.force,
      inputs: [modelDir, textFile, ...(calibFile ? [calibFile] : [])],
      recognise: (dir) => exists(join(dir, QUALITY_MANIFEST)),
    },
  );
  await checkCacheDir();
  let text: string;
  try {
    text = await Deno.readTextFile(textFile);
  } catch (e) {
    throw new KitError(`--text ${textFile}: cannot read it: ${(e as Error).message}`);
  }

  const t0 = performance.now();
  const fp = await loadModel(modelDir, { ep, threads });
  const workDir = await Deno.makeTempDir({ prefix: "quamba-variants-" });
  try {
    const ids = fp.tokenizer.encode(text);
    if (ids.length < 2 * window + 1) {
      throw new KitError(
        `--text ${textFile}: ${ids.length} tokens; need at least ${2 * window + 1} ` +
          `(two windows of --window ${window} and one more)`,
      );
    }
    const int8 = methods.filter((m) => m !== "fp32" && m !== "fp16");
    let stats: StatsView | undefined;
    const ckpt = await openCheckpoint(modelDir);
    const calib = int8.length || o.sensitivity
      ? await loadCalibration(calibFile ?? DEFAULT_CALIBRATION, fp.tokenizer, {
        samples: o.samples === undefined
          ? undefined
          : intOption(o.samples, "samples", 512, { min: 1 }),
      })
      : undefined;
    if (calib) {
      stats = await collectStats(ckpt, calib, {
        ep,
        threads,
        emaPercentiles: [...new Set([...ABLATION_PERCENTILES, percentile])],
      });
    }
    const log = (line: string) => console.error(line);
    const { comparison } = await runQuality(fp, methods, {
      ids,
      text: textFile,
      tokens,
      window,
      bootstrap: { resamples, seed },
      percentile,
      ep,
      threads,
      out,
      log,
      open: (method) =>
        method === "fp32" || method === "fp16"
          ? loadModel(modelDir, { dtype: method, ep, threads })
          : (methodSpec(method),
            quantize(modelDir, { method, calibration: calib, stats, percentile, ep, threads })),
      sensitivity: o.sensitivity ? { ckpt, stats: stats!, workDir, ep, threads } : undefined,
      sensitivityTokens: sensTokens,
    });
    console.log(
      `\nKL(fp32 ‖ method) per token on ${comparison.tokens} tokens of ${textFile} ` +
        `(${comparison.windows} windows of ${window}; fp32 NLL ${
          estimateText(comparison.referenceNll)
        } nats/token); ` +
        `95% intervals: bootstrap over windows\n`,
    );
    console.log(markdownTable(klDisplayRows(comparison)));
    console.log(`results in ${out} (${formatSeconds((performance.now() - t0) / 1000)})`);
  } finally {
    await fp.close();
    await Deno.remove(workDir, { recursive: true });
  }
});
