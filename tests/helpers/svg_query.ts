/** Reading back what a figure's SVG draws: its texts, marks, axes; and snapshot comparison. */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DOMParser } from "linkedom";
import { readMaybeGzipped } from "../../lib/fsutil.ts";

// deno-lint-ignore no-explicit-any
export type Node = any;

/** Parses an SVG document (linkedom, XML mode). */
export function parseSvg(svg: string): Node {
  return new DOMParser().parseFromString(svg, "image/svg+xml");
}

/** The elements of a Plot mark or axis (`aria-label`), e.g. marks(doc, "cell", "rect"). */
export function marks(doc: Node, label: string, tag: string): Node[] {
  return [...doc.querySelectorAll(`g[aria-label="${label}"] ${tag}`)];
}

/** Every text drawn, in order. */
export function texts(doc: Node): string[] {
  return [...doc.querySelectorAll("text")].map((t: Node) => t.textContent);
}

const SUP: Record<string, string> = {
  "⁰": "0",
  "¹": "1",
  "²": "2",
  "³": "3",
  "⁴": "4",
  "⁵": "5",
  "⁶": "6",
  "⁷": "7",
  "⁸": "8",
  "⁹": "9",
  "⁻": "-",
};

/** A tick label as a number: "20", "0.01", "10⁻⁵", "1,000"; NaN for "". */
export function tickValue(label: string): number {
  const m = label.match(/^10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/);
  if (m) return 10 ** Number([...m[1]].map((c) => SUP[c]).join(""));
  return label.trim() === "" ? NaN : Number(label.replace(/,/g, "").replace("−", "-"));
}

/** The labelled ticks of the first x or y axis: value and position along the axis (px). */
export function axisTicks(doc: Node, axis: "x" | "y"): { value: number; pos: number }[] {
  const group = doc.querySelector(`g[aria-label="${axis}-axis tick label"]`);
  assert.ok(group, `no ${axis}-axis tick labels`);
  return [...group.querySelectorAll("text")].map((t: Node) => {
    const [x, y] = t.getAttribute("transform").match(/translate\(([^,]+),([^)]+)\)/)!.slice(1)
      .map(Number);
    return { value: tickValue(t.textContent), pos: axis === "x" ? x : y };
  }).filter((t: { value: number }) => Number.isFinite(t.value));
}

/**
 * Whether an axis's tick positions are logarithmic in their values (else linear): the positions
 * of three ticks fit log(value) and not the values themselves.
 */
export function axisScale(doc: Node, axis: "x" | "y"): "log" | "linear" {
  const t = axisTicks(doc, axis).filter((t) => t.value > 0).sort((a, b) => a.value - b.value);
  assert.ok(t.length >= 3, `${axis} axis: fewer than 3 positive labelled ticks`);
  const [a, b, c] = [t[0], t[Math.floor(t.length / 2)], t.at(-1)!];
  const frac = (b.pos - a.pos) / (c.pos - a.pos);
  const logFrac = Math.log(b.value / a.value) / Math.log(c.value / a.value);
  const linFrac = (b.value - a.value) / (c.value - a.value);
  if (Math.abs(frac - logFrac) < 1e-3 && Math.abs(frac - linFrac) > 1e-2) return "log";
  if (Math.abs(frac - linFrac) < 1e-3) return "linear";
  throw new Error(`${axis} axis: ticks are neither linear nor log`);
}

/** Plot's random class names and ids out, numbers rounded to 2 decimals: stable across runs. */
export function normalizeSvg(svg: string): string {
  return svg
    .replace(/plot-[0-9a-f]{6}/g, "plot-X")
    .replace(/ id="[^"]*"/g, "")
    .replace(/-?\d*\.\d+(?:e-?\d+)?/g, (x) => String(Number(Number(x).toFixed(2))))
    .replace(/></g, ">\n<");
}

/**
 * Compares normalised SVG with tests/snapshots/NAME.svg (stored gzipped, NAME.svg.gz, to keep the
 * repository small); `UPDATE_SNAPSHOTS=1` rewrites the file.
 */
export async function assertSnapshot(name: string, svg: string): Promise<void> {
  const path = fileURLToPath(new URL(`../snapshots/${name}.svg`, import.meta.url));
  const actual = normalizeSvg(svg);
  if (Deno.env.get("UPDATE_SNAPSHOTS") === "1") {
    await Deno.mkdir(fileURLToPath(new URL("../snapshots", import.meta.url)), { recursive: true });
    const gz = new Blob([actual]).stream().pipeThrough(new CompressionStream("gzip"));
    await Deno.writeFile(`${path}.gz`, new Uint8Array(await new Response(gz).arrayBuffer()));
    return;
  }
  let expected: string;
  try {
    expected = new TextDecoder().decode(await readMaybeGzipped(path));
  } catch {
    throw new Error(`no snapshot ${path}: run UPDATE_SNAPSHOTS=1 deno task test`);
  }
  if (actual === expected) return;
  const a = actual.split("\n"), e = expected.split("\n");
  let i = 0;
  while (i < a.length && a[i] === e[i]) i++;
  assert.fail(
    `${name}: SVG differs from ${path} at line ${i + 1} (UPDATE_SNAPSHOTS=1 rewrites it)\n` +
      `  expected: ${e[i]?.slice(0, 200)}\n  actual:   ${a[i]?.slice(0, 200)}`,
  );
}
