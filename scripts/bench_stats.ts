/**
 * Cost of observation: collecting every activation statistic vs a plain forward pass over the
 * same calibration samples, measured in one run (target: at most 2x).
 *
 *   deno run -A scripts/bench_stats.ts [--model DIR] [--samples N] [--max-len L]
 */
import { loadCalibration } from "../lib/calibration.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { intOption, parseCli, runCli } from "../lib/cli.ts";
import { modelFromCheckpoint } from "../lib/model.ts";
import { DEFAULT_CALIBRATION, EMBEDDED_MODEL } from "../lib/paths.ts";
import { collectStats } from "../lib/stats/collect.ts";

const USAGE = `usage: deno run -A scripts/bench_stats.ts [--model DIR] [--samples N] [--max-len L]`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    model: { type: "string" },
    samples: { type: "string" },
    "max-len": { type: "string" },
  }, USAGE);
  const ckpt = await openCheckpoint(o.model ?? EMBEDDED_MODEL);
  const model = await modelFromCheckpoint(ckpt);
  const calib = await loadCalibration(DEFAULT_CALIBRATION, model.tokenizer, {
    samples: intOption(o.samples, "samples", 32),
    maxLen: intOption(o["max-len"], "max-len", 512),
  });
  const warm = { ...calib, samples: calib.samples.slice(0, 1) };
  await model.logits(calib.samples[0]);
  await collectStats(ckpt, warm, { progress: false });
  let t = performance.now();
  for (const ids of calib.samples) await model.logits(ids);
  const plain = performance.now() - t;
  t = performance.now();
  await collectStats(ckpt, calib, { progress: false });
  const observed = performance.now() - t;
  await model.close();
  const tokens = calib.samples.reduce((a, s) => a + s.length, 0);
  console.log(`${calib.samples.length} samples, ${tokens} tokens of ${calib.source}`);
  console.log(`plain forward: ${plain.toFixed(0)} ms; with statistics: ${observed.toFixed(0)} ms`);
  console.log(`ratio observed/plain: ${(observed / plain).toFixed(2)}x (target <= 2x)`);
});
