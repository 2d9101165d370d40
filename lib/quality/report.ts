/**
 * A quality run written to disk: the comparison's tables (kl, kl_positions), per-token values
 * and figures, and optionally the per-tensor sensitivity and the ablation, with a manifest
 * (`quality.json`) that marks the folder as the kit's.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../fsutil.ts";
import type { Model } from "../model.ts";
import {
  ablationPlot,
  klByPositionPlot,
  klDistributionPlot,
  sensitivityHeatmap,
} from "../plots/quality.ts";
import { svgToPng } from "../plots/png.ts";
import { KIT_VERSION } from "../version.ts";
import {
  compareMethods,
  type CompareOptions,
  type Comparison,
  type ComparisonSummary,
} from "./compare.ts";
import {
  type AblationRow,
  percentileAblation,
  sensitivity,
  type SensitivityRow,
} from "./sensitivity.ts";
import {
  ablationRows,
  klDisplayRows,
  klRows,
  positionRows,
  sensitivityRows,
  writeQualityTable,
  writeTokenTable,
} from "./tables.ts";
import type { VariantSource } from "./variants.ts";

/** The file that marks a folder as holding this kit's quality results. */
export const QUALITY_MANIFEST = "quality.json";

/**
 * Writes an SVG figure and its PNG (atomically); returns the two paths.
 *
 * @example
 * ```ts
 * await writeFigure("out/figures", "kl_distribution", klDistributionPlot(comparison));
 * ```
 */
export async function writeFigure(dir: string, name: string, svg: string): Promise<string[]> {
  const svgPath = join(dir, `${name}.svg`), pngPath = join(dir, `${name}.png`);
  await writeFileAtomic(svgPath, svg);
  await writeFileAtomic(pngPath, svgToPng(svg));
  return [svgPath, pngPath];
}

/**
 * The comparison without its per-token arrays (for JSON).
 *
 * @example
 * ```ts
 * JSON.stringify(comparisonSummary(comparison));
 * ```
 */
export function comparisonSummary(c: Comparison): ComparisonSummary {
  return { ...c, methods: c.methods.map(({ perToken: _, ...m }) => m) };
}

/**
 * Writes kl.*, kl_positions.*, kl_tokens.arrow, comparison.json and the two KL figures; returns
 * the files.
 *
 * @example
 * ```ts
 * await writeComparison(comparison, { tables: "out", figures: "out/figures" });
 * ```
 */
export async function writeComparison(
  c: Comparison,
  dirs: { tables: string; figures: string },
  model = "",
): Promise<string[]> {
  const meta = {
    source: c.source,
    text: c.text,
    reference: c.reference,
    tokens: String(c.tokens),
    windows: String(c.windows),
    window: String(c.window),
    interval: `${c.bootstrap.level * 100}% percentile bootstrap over windows, ` +
      `${c.bootstrap.resamples} draws, seed ${c.bootstrap.seed}`,
    kit_version: KIT_VERSION,
  };
  await writeQualityTable(dirs.tables, "kl", klRows(c, model), klDisplayRows(c), meta);
  const pos = positionRows(c, model);
  await writeQualityTable(dirs.tables, "kl_positions", pos, pos, meta);
  await writeTokenTable(join(dirs.tables, "kl_tokens.arrow"), c);
  await writeFileAtomic(
    join(dirs.tables, "comparison.json"),
    JSON.stringify(comparisonSummary(c), null, 1) + "\n",
  );
  const files = ["kl", "kl_positions"].flatMap((n) =>
    ["md", "csv", "json", "arrow"].map((e) => join(dirs.tables, `${n}.${e}`))
  );
  files.push(join(dirs.tables, "kl_tokens.arrow"), join(dirs.tables, "comparison.json"));
  if (c.methods.some((m) => m.perToken.kl.some((v) => v > 0))) {
    files.push(...await writeFigure(dirs.figures, "kl_distribution", klDistributionPlot(c)));
    files.push(...await writeFigure(dirs.figures, "kl_by_position", klByPositionPlot(c)));
  }
  return files;
}

/**
 * Writes sensitivity.* / ablation.* and their figures; returns the files.
 *
 * @example
 * ```ts
 * await writeSensitivity({ sensitivity: rows, ablation }, { tables: "out", figures: "out/figures" });
 * ```
 */
export async function writeSensitivity(
  rows: { sensitivity?: SensitivityRow[]; ablation?: AblationRow[] },
  dirs: { tables: string; figures: string },
  note?: string,
): Promise<string[]> {
  const files: string[] = [];
  const meta = { kit_version: KIT_VERSION, note: note ?? "" };
  if (rows.sensitivity?.length) {
    const r = sensitivityRows(rows.sensitivity);
    await writeQualityTable(dirs.tables, "sensitivity", r, r, meta);
    files.push(join(dirs.tables, "sensitivity.csv"));
    files.push(
      ...await writeFigure(
        dirs.figures,
        "sensitivity_heatmap",
        sensitivityHeatmap(rows.sensitivity, { note }),
      ),
    );
  }
  if (rows.ablation?.length) {
    const r = ablationRows(rows.ablation);
    await writeQualityTable(dirs.tables, "ablation", r, r, meta);
    files.push(join(dirs.tables, "ablation.csv"));
    files.push(
      ...await writeFigure(dirs.figures, "ablation", ablationPlot(rows.ablation, { note })),
    );
  }
  return files;
}

/** What `runQuality` does. */
export interface QualityRunOptions extends Omit<CompareOptions, "log"> {
  /** Output folder (tables at its top, figures in `figures/`). */
  out: string;
  /** Also the per-tensor sensitivity and the ablation, from this source. */
  sensitivity?: VariantSource;
  /** Tokens per sensitivity variant; default 4096. */
  sensitivityTokens?: number;
  log?: (line: string) => void;
}

/**
 * compareMethods (and optionally sensitivity and the ablation), written to `out` with a
 * manifest; the caller checks `out` first (lib/output.ts prepareOutputDir).
 *
 * @example
 * ```ts
 * await runQuality(fp, ["fp16", "w8a8", "quamba"], { ids, out: "reports/quality" });
 * ```
 */
export async function runQuality(
  model: Model | string,
  methods: string[],
  options: QualityRunOptions,
): Promise<{ comparison: Comparison; sensitivity?: SensitivityRow[]; ablation?: AblationRow[] }> {
  const dirs = { tables: options.out, figures: join(options.out, "figures") };
  const t0 = performance.now();
  const comparison = await compareMethods(model, methods, options);
  const seconds: Record<string, number> = { compare: (performance.now() - t0) / 1000 };
  const files = await writeComparison(comparison, dirs);
  let sens: SensitivityRow[] | undefined, abl: AblationRow[] | undefined;
  if (options.sensitivity) {
    const run = {
      ids: options.ids,
      tokens: options.sensitivityTokens ?? 4096,
      window: options.window,
      bootstrap: options.bootstrap,
      percentile: options.percentile,
      log: options.log,
    };
    let t = performance.now();
    sens = await sensitivity(options.sensitivity, run);
    seconds.sensitivity = (performance.now() - t) / 1000;
    t = performance.now();
    abl = await percentileAblation(options.sensitivity, run);
    seconds.ablation = (performance.now() - t) / 1000;
    files.push(
      ...await writeSensitivity({ sensitivity: sens, ablation: abl }, dirs, sensitivityNote(run)),
    );
  }
  await writeFileAtomic(
    join(options.out, QUALITY_MANIFEST),
    JSON.stringify(
      {
        format: "quamba-kit quality results",
        kit_version: KIT_VERSION,
        created: new Date().toISOString(),
        source: comparison.source,
        text: comparison.text,
        methods,
        tokens: comparison.tokens,
        window: comparison.window,
        bootstrap: comparison.bootstrap,
        seconds,
        files,
      },
      null,
      1,
    ) + "\n",
  );
  return { comparison, sensitivity: sens, ablation: abl };
}

function sensitivityNote(run: { tokens: number; window?: number }): string {
  return `${run.tokens} held-out tokens per variant in windows of ${run.window ?? 256}; ` +
    `B and C are quantized with the scale they share with dt_low (x_proj's output) in the recipe.`;
}
