/**
 * Observable Plot without a browser: plots render into a linkedom document, and a figure stacks
 * plots under a title, subtitle and caption as one standalone SVG (xmlns set, no HTML), which
 * a browser, a notebook and resvg all display the same.
 */
import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";

/** The parts of a DOM element that are read here (the kit type-checks without the DOM lib). */
interface DomElement {
  tagName: string;
  innerHTML: string;
  getAttribute(name: string): string | null;
}

/** The linkedom document that every plot renders into. */
export const document: unknown = (parseHTML(
  "<!DOCTYPE html><html><body></body></html>",
) as unknown as { document: unknown }).document;

/** A fixed class name (Plot's default is random), so that the SVG of a figure is reproducible. */
export const CLASS_NAME = "quamba-plot";

/** Series colours (Tableau 10), shared by the figures. */
export const COLORS = {
  blue: "#4e79a7",
  orange: "#f28e2b",
  red: "#e15759",
  teal: "#76b7b2",
  green: "#59a14f",
  gray: "#79706e",
  purple: "#b07aa1",
} as const;

const FONT = "system-ui, sans-serif";
const MARGIN = 16;

/** A rectangle of SVG markup placed by a figure. */
export interface Block {
  width: number;
  height: number;
  /** SVG markup drawn in the box (0, 0)–(width, height) */
  body: string;
}

/**
 * Runs Plot.plot with the linkedom document and the fixed class name; returns it as a block.
 *
 * @example
 * ```ts
 * const block = plotBlock({ width: 400, height: 200, marks: [Plot.dotX([1, 2, 3])] });
 * ```
 */
export function plotBlock(options: Plot.PlotOptions): Block {
  const el = Plot.plot({ ...options, document, className: CLASS_NAME }) as unknown as DomElement;
  if (el.tagName.toLowerCase() !== "svg") {
    throw new Error("plotBlock: Plot returned HTML (title, caption or legend set?), not an SVG");
  }
  const attrs = ["fill", "font-family", "font-size", "text-anchor"]
    .map((a) => el.getAttribute(a) === null ? "" : ` ${a}="${esc(el.getAttribute(a)!)}"`)
    .join("");
  return {
    width: Number(el.getAttribute("width")),
    height: Number(el.getAttribute("height")),
    body: `<g class="${CLASS_NAME}"${attrs}>${el.innerHTML}</g>`,
  };
}

/**
 * Escapes text for XML content and attribute values.
 *
 * @example
 * ```ts
 * esc("a < b & c"); // "a &lt; b &amp; c"
 * ```
 */
export function esc(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}

/**
 * Greedy word wrap for a line width in px (DejaVu Sans averages about 0.58 em a character).
 *
 * @example
 * ```ts
 * wrapText("a long subtitle ...", 600, 12); // lines of at most 86 characters
 * ```
 */
export function wrapText(text: string, width: number, fontSize: number): string[] {
  const perLine = Math.max(10, Math.floor(width / (0.58 * fontSize)));
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > perLine) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * Text lines as a block (a heading, a note), wrapped to `width`.
 *
 * @example
 * ```ts
 * const heading = textBlock("u: the SSM input", 760, { fontSize: 12, bold: true });
 * ```
 */
export function textBlock(
  text: string,
  width: number,
  options: { fontSize?: number; bold?: boolean; color?: string } = {},
): Block {
  const { fontSize = 12, bold = false, color = "#333" } = options;
  const lines = wrapText(text, width, fontSize);
  const lh = Math.round(fontSize * 1.3);
  const body = lines.map((l, i) =>
    `<text x="0" y="${Math.round(fontSize + i * lh)}" font-size="${fontSize}"` +
    `${bold ? ' font-weight="bold"' : ""} fill="${color}">${esc(l)}</text>`
  ).join("");
  return { width, height: lines.length * lh + Math.round(fontSize * 0.3), body };
}

/**
 * A row of coloured swatches with labels (a categorical legend, as SVG; Plot's own swatches
 * legend is HTML).
 *
 * @example
 * ```ts
 * swatchBlock([{ label: "y", color: COLORS.red }, { label: "EMA", color: COLORS.green, dash: true }]);
 * ```
 */
export function swatchBlock(items: { label: string; color: string; dash?: boolean }[]): Block {
  let x = 0;
  const parts: string[] = [];
  for (const { label, color, dash } of items) {
    parts.push(
      dash
        ? `<line x1="${x}" x2="${
          x + 18
        }" y1="9" y2="9" stroke="${color}" stroke-width="2" stroke-dasharray="4,3"/>`
        : `<rect x="${x}" y="3" width="18" height="12" fill="${color}"/>`,
      `<text x="${x + 24}" y="13" font-size="12" fill="#333">${esc(label)}</text>`,
    );
    x += 24 + Math.ceil(label.length * 0.6 * 12) + 18;
  }
  return { width: x, height: 20, body: parts.join("") };
}

/** What a figure holds: a title, an optional subtitle and caption, and blocks stacked in order. */
export interface FigureParts {
  title: string;
  subtitle?: string;
  caption?: string;
  blocks: Block[];
}

/**
 * Stacks a title, subtitle, the blocks and a caption into one standalone SVG document.
 *
 * @example
 * ```ts
 * const svg = figure({ title: "Demo", blocks: [plotBlock({ marks: [Plot.dotX([1, 2, 3])] })] });
 * ```
 */
export function figure(parts: FigureParts): string {
  const inner = Math.max(...parts.blocks.map((b) => b.width));
  const stack: Block[] = [
    textBlock(parts.title, inner, { fontSize: 16, bold: true, color: "#111" }),
  ];
  if (parts.subtitle) stack.push(textBlock(parts.subtitle, inner, { fontSize: 12, color: "#444" }));
  stack.push({ width: 0, height: 4, body: "" }, ...parts.blocks);
  if (parts.caption) stack.push(textBlock(parts.caption, inner, { fontSize: 11, color: "#666" }));
  let y = MARGIN;
  const body = stack.map((b) => {
    const g = b.body ? `<g transform="translate(${MARGIN},${y})">${b.body}</g>` : "";
    y += b.height + 6;
    return g;
  }).join("\n");
  const width = inner + 2 * MARGIN, height = Math.ceil(y - 6 + MARGIN);
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
    `width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="${FONT}" font-size="10">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}
