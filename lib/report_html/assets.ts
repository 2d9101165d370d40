/**
 * The scripts report.html inlines: Observable Plot as one minified bundle (plot.bundle.js.gz,
 * committed, rebuilt by scripts/bundle_plot.ts) and the page's own code (client/*.js: plain
 * browser scripts, run in this order).
 */

/** The page's scripts, in the order they run (common.js sets the global the others read). */
export const CLIENT_SCRIPTS = ["common.js", "results.js", "outliers.js"] as const;

/** The first line of plot.bundle.js, naming the version and the licenses. */
export const PLOT_BUNDLE_HEADER = (version: string): string =>
  `/*! @observablehq/plot ${version} (ISC license, Copyright Observable, Inc.) with d3 ` +
  `(ISC license, Copyright Mike Bostock): bundled by scripts/bundle_plot.ts */`;

async function readAsset(name: string): Promise<string> {
  const url = new URL(name, import.meta.url);
  const bytes = url.protocol === "file:" ? await Deno.readFile(url) : await fetchBytes(url);
  if (!name.endsWith(".gz")) return new TextDecoder().decode(bytes);
  const plain = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(plain).text();
}

async function fetchBytes(url: URL): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * The Plot bundle's text (stored gzipped, `plot.bundle.js.gz`: a third of the size in the
 * repository, whose tracked files must stay under 10 MiB).
 *
 * @example
 * ```ts
 * (await plotBundle()).slice(0, 60); // "/*! @observablehq/plot 0.6.17 ..."
 * ```
 */
export async function plotBundle(): Promise<string> {
  return await readAsset("plot.bundle.js.gz");
}

/**
 * The Plot version pinned in deno.json (`npm:@observablehq/plot@X`).
 *
 * @example
 * ```ts
 * await plotVersion(); // "0.6.17"
 * ```
 */
export async function plotVersion(): Promise<string> {
  const cfg = JSON.parse(await readAsset("../../deno.json"));
  const spec = String(cfg.imports?.["@observablehq/plot"] ?? "");
  return /@observablehq\/plot@(.+)$/.exec(spec)?.[1] ?? "unknown";
}

/**
 * The Plot bundle and the page script, as text to inline.
 *
 * @example
 * ```ts
 * const { plot, client } = await reportAssets();
 * console.log(plot.length, client.length);
 * ```
 */
export async function reportAssets(): Promise<{ plot: string; client: string }> {
  const client = [];
  for (const name of CLIENT_SCRIPTS) client.push(await readAsset(`client/${name}`));
  return { plot: await plotBundle(), client: client.join("\n") };
}
