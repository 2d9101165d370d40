/**
 * `deno task plots --stats DIR [--layer N] [--out DIR] [--scale S]`: the figures of a stats
 * folder (scalars.arrow, channels.arrow, histograms.arrow from `deno task stats`), each as SVG
 * and PNG in --out (default DIR/figures), written atomically.
 */
import { join } from "node:path";
import { intOption, parseCli, runCli } from "../lib/cli.ts";
import { KitError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fsutil.ts";
import { checkLayer } from "../lib/plots/data.ts";
import { allFigures, readStatsTables, svgToPng } from "../lib/plots/mod.ts";

const USAGE = `usage: deno task plots --stats DIR [--layer N] [--out DIR] [--scale S]

  --stats DIR   folder with scalars.arrow, channels.arrow and histograms.arrow (deno task stats)
  --layer N     layer of the single-layer figures (default: the one whose y has the most
                outlier-dominated absmax, absmax / p99)
  --out DIR     where the SVG and PNG files go (default: DIR/figures)
  --scale S     PNG pixels per SVG pixel (default 2)`;

await runCli(async () => {
  const args = parseCli(Deno.args, {
    stats: { type: "string" },
    layer: { type: "string" },
    out: { type: "string" },
    scale: { type: "string" },
  }, USAGE);
  if (!args.stats) throw new KitError(`--stats DIR is required\n\n${USAGE}`);
  const scale = Number(args.scale ?? 2);
  if (!(scale > 0 && scale <= 8)) {
    throw new KitError(`--scale must be in (0, 8], got '${args.scale}'`);
  }
  const stats = await readStatsTables(args.stats);
  const layer = args.layer === undefined ? undefined : intOption(args.layer, "layer", 0);
  if (layer !== undefined) checkLayer(stats.channels, { name: "channels", layer });
  const out = args.out ?? join(args.stats, "figures");
  for (const { name, svg } of allFigures(stats, { layer })) {
    await writeFileAtomic(join(out, `${name}.svg`), svg);
    await writeFileAtomic(join(out, `${name}.png`), svgToPng(svg, { scale }));
    console.log(`${join(out, name)}.{svg,png}`);
  }
});
