/**
 * `deno task plots --stats DIR [--layer N] [--out DIR] [--scale S]`: the figures of a stats
 * folder (scalars.arrow, channels.arrow, histograms.arrow from `deno task stats`), each as SVG
 * and PNG in --out (default DIR/figures), written atomically.
 */
import { join } from "node:path";
import { intOption, numberOption, parseCli, runCli } from "../lib/cli.ts";
import { KitError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fsutil.ts";
import { prepareOutputDir } from "../lib/output.ts";
import { userPath } from "../lib/paths.ts";
import { checkLayer } from "../lib/plots/data.ts";
import { allFigures, readStatsTables, svgToPng } from "../lib/plots/mod.ts";

const USAGE = `usage: deno task plots --stats DIR [--layer N] [--out DIR] [--scale S]

  --stats DIR   folder with scalars.arrow, channels.arrow and histograms.arrow (deno task stats)
  --layer N     layer of the single-layer figures (default: the one whose y has the most
                outlier-dominated absmax, absmax / p99)
  --out DIR     where the SVG and PNG files go (default: DIR/figures); a new or empty folder,
                or one an earlier plots run wrote
  --force       write into --out even if it holds files the kit did not write
  --scale S     PNG pixels per SVG pixel (default 2)`;

await runCli(async () => {
  const args = parseCli(Deno.args, {
    stats: { type: "string" },
    layer: { type: "string" },
    out: { type: "string" },
    scale: { type: "string" },
    force: { type: "boolean" },
  }, USAGE);
  if (!args.stats) throw new KitError(`--stats DIR is required\n\n${USAGE}`);
  const scale = numberOption(args.scale, "scale", 2, { min: 0.25, max: 8 });
  const statsDir = userPath(args.stats);
  const stats = await readStatsTables(statsDir);
  const layer = args.layer === undefined ? undefined : intOption(args.layer, "layer", 0);
  if (layer !== undefined) checkLayer(stats.channels, { name: "channels", layer });
  const out = await prepareOutputDir(userPath(args.out ?? join(statsDir, "figures")), "plots", {
    force: args.force,
    inputs: [join(statsDir, "scalars.arrow")],
  });
  for (const { name, svg } of allFigures(stats, { layer })) {
    await writeFileAtomic(join(out, `${name}.svg`), svg);
    await writeFileAtomic(join(out, `${name}.png`), svgToPng(svg, { scale }));
    console.log(`${join(out, name)}.{svg,png}`);
  }
});
