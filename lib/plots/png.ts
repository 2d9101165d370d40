/**
 * PNG export of the SVG figures with resvg, using only the DejaVu Sans files that ship with the
 * kit (data/fonts/), so that text renders the same on a headless machine with no fonts.
 */
import { fileURLToPath } from "node:url";
import { Resvg } from "@resvg/resvg-js";

/** The font files the PNGs are rendered with (regular and bold). */
export const FONT_FILES: string[] = ["DejaVuSans-subset.ttf", "DejaVuSans-Bold-subset.ttf"].map(
  (f) => fileURLToPath(new URL(`../../data/fonts/${f}`, import.meta.url)),
);

export interface PngOptions {
  /** pixels per SVG px (default 2: sharp on high-density screens) */
  scale?: number;
}

/**
 * Renders an SVG document to PNG bytes on a white background.
 *
 * @example
 * ```ts
 * const svg = channelOutliersPlot(stats, { layer: 0 });
 * await Deno.writeFile("channels.png", svgToPng(svg));
 * ```
 */
export function svgToPng(svg: string, options: PngOptions = {}): Uint8Array {
  return resvg(svg, options).render().asPng();
}

/**
 * Renders an SVG document to raw RGBA pixels (for checks that look at what is drawn).
 *
 * @example
 * ```ts
 * const { width, height, pixels } = svgToRgba(svg, { scale: 1 }); // pixels: width*height*4 bytes
 * ```
 */
export function svgToRgba(
  svg: string,
  options: PngOptions = {},
): { width: number; height: number; pixels: Uint8Array } {
  const image = resvg(svg, options).render();
  return { width: image.width, height: image.height, pixels: new Uint8Array(image.pixels) };
}

function resvg(svg: string, options: PngOptions): Resvg {
  const { scale = 2 } = options;
  return new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    font: {
      loadSystemFonts: false,
      fontFiles: FONT_FILES,
      defaultFontFamily: "DejaVu Sans",
      sansSerifFamily: "DejaVu Sans",
    },
  });
}
