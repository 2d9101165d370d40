/**
 * Activation statistics of a Mamba model over calibration text, as Arrow tables.
 *
 *   deno task stats --model DIR --calib FILE [--samples N] [--max-len L] --out DIR
 */
import { join } from "node:path";
import { loadCalibration } from "../lib/calibration.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { intOption, parseCli, runCli } from "../lib/cli.ts";
import { DEFAULT_CALIBRATION, EMBEDDED_MODEL } from "../lib/paths.ts";
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
  --out DIR        where scalars.arrow, channels.arrow and histograms.arrow go (default stats/)

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
  }, USAGE);
  const out = o.out ?? "stats";
  const ckpt = await openCheckpoint(o.model ?? EMBEDDED_MODEL);
  const tokenizer = await loadTokenizer(ckpt.dir);
  const want = intOption(o.samples, "samples", 512);
  const calib = await loadCalibration(o.calib ?? DEFAULT_CALIBRATION, tokenizer, {
    samples: want,
    maxLen: intOption(o["max-len"], "max-len", 512),
  });
  if (calib.samples.length < want) {
    console.error(`note: ${calib.source} holds ${calib.samples.length} samples; using all of them`);
  }
  const stats = await collectStats(ckpt, calib, {
    ep: parseEp(o.ep ?? "cpu"),
    chunk: intOption(o.chunk, "chunk", 512),
  });
  await writeStats(out, stats);
  console.log(`layer  absmax(u)  p99.999(u)  absmax(y)  absmax(y_had)  kurtosis(y)`);
  for (let i = 0; i < ckpt.config.num_hidden_layers; i++) {
    const u = stats.get(i, "u")!, y = stats.get(i, "y")!, yh = stats.get(i, "y_had")!;
    console.log(
      `${String(i).padStart(5)}  ${u.absmax.toFixed(3).padStart(9)}  ${
        u.sketch.quantile(0.99999).toFixed(3).padStart(10)
      }  ` +
        `${y.absmax.toFixed(2).padStart(9)}  ${yh.absmax.toFixed(2).padStart(13)}  ${
          y.moments.kurtosis.toFixed(1).padStart(11)
        }`,
    );
  }
  console.log(
    `wrote ${["scalars", "channels", "histograms"].map((t) => join(out, `${t}.arrow`)).join(", ")}`,
  );
});
