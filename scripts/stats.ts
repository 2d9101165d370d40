/**
 * Activation statistics of a Mamba model over calibration text, as Arrow tables.
 *
 *   deno task stats --model DIR --calib FILE [--samples N] [--max-len L] --out DIR
 */
import { join } from "node:path";
import { loadCalibration } from "../lib/calibration.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { printLayerSummary } from "../lib/stats/layer_summary.ts";
import { checkCacheDir } from "../lib/cache.ts";
import { intOption, parseCli, runCli } from "../lib/cli.ts";
import { prepareOutputDir } from "../lib/output.ts";
import { DEFAULT_CALIBRATION, EMBEDDED_MODEL, userPath } from "../lib/paths.ts";
import { parseEp } from "../lib/runtime.ts";
import { collectStats, writeStats } from "../lib/stats/collect.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";

const USAGE = `Activation statistics (absmax, percentiles, per-channel absmax, moments, histograms).

usage: deno task stats [--model DIR] [--calib FILE] [--out DIR] [options]

  --model DIR      checkpoint folder (default: the embedded model)
  --calib FILE     calibration text (.txt: paragraphs packed into samples; .jsonl: {"text": ...}
                   per line); default: ${DEFAULT_CALIBRATION}
  --samples N      calibration samples (default 512, as in the paper)
  --max-len L      tokens per sample (default 512)
  --chunk N        tokens per observation run, bounds memory (default 512)
  --ep NAME        cpu (default), webgpu, cuda
  --out DIR        where scalars.arrow, channels.arrow and histograms.arrow go (default stats/);
                   a new or empty folder, or one an earlier stats run wrote
  --force          write into --out even if it holds files the kit did not write

Schema: lib/stats/schema.ts.`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    model: { type: "string" },
    calib: { type: "string" },
    samples: { type: "string" },
    "max-len": { type: "string" },
    chunk: { type: "string" },
    ep: { type: "string" },
    out: { type: "string" },
    force: { type: "boolean" },
  }, USAGE);
  const want = intOption(o.samples, "samples", 512, { min: 1 });
  const maxLen = intOption(o["max-len"], "max-len", 512, { min: 2 });
  const chunk = intOption(o.chunk, "chunk", 512, { min: 1 });
  const ep = parseEp(o.ep ?? "cpu");
  const ckpt = await openCheckpoint(o.model ? userPath(o.model) : EMBEDDED_MODEL);
  const calibFile = o.calib ? userPath(o.calib) : DEFAULT_CALIBRATION;
  const out = await prepareOutputDir(userPath(o.out ?? "stats"), "stats", {
    force: o.force,
    inputs: [ckpt.dir, calibFile],
  });
  await checkCacheDir();
  const tokenizer = await loadTokenizer(ckpt.dir);
  const calib = await loadCalibration(calibFile, tokenizer, { samples: want, maxLen });
  for (const w of calib.warnings ?? []) console.error(`note: ${w}`);
  const stats = await collectStats(ckpt, calib, { ep, chunk });
  await writeStats(out, stats);
  printLayerSummary(stats, ckpt.config.num_hidden_layers);
  console.log(
    `wrote ${["scalars", "channels", "histograms"].map((t) => join(out, `${t}.arrow`)).join(", ")}`,
  );
});
