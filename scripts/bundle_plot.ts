/**
 * Rebuilds lib/report_html/plot.bundle.js.gz: Observable Plot (the version pinned in deno.json)
 * and the parts of d3 it uses, minified into one browser script that sets the global `Plot`,
 * which report.html inlines so that it opens without a network. Run after changing the pin:
 *
 *   deno run -A scripts/bundle_plot.ts
 */
import { fileURLToPath as fromFileUrl } from "node:url";
import { writeFileAtomic } from "../lib/fsutil.ts";
import { PLOT_BUNDLE_HEADER, plotVersion } from "../lib/report_html/assets.ts";

const dir = new URL("../lib/report_html/", import.meta.url);
const tmp = await Deno.makeTempFile({ suffix: ".js" });
try {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "--format",
      "iife",
      "--minify",
      "-o",
      tmp,
      fromFileUrl(new URL("plot_entry.js", dir)),
    ],
    stderr: "inherit",
  }).output();
  if (!out.success) Deno.exit(1);
  const version = await plotVersion();
  const body = await Deno.readTextFile(tmp);
  const text = new Blob([`${PLOT_BUNDLE_HEADER(version)}\n${body}`]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  const gz = new Uint8Array(await new Response(text).arrayBuffer());
  await writeFileAtomic(fromFileUrl(new URL("plot.bundle.js.gz", dir)), gz);
  console.log(
    `lib/report_html/plot.bundle.js.gz: Plot ${version}, ${body.length} bytes (${gz.length} gzipped)`,
  );
} finally {
  await Deno.remove(tmp).catch(() => {});
}
