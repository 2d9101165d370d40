/**
 * What report.html shows, gathered from a reproduction folder as plain JSON: the run's config
 * and environment, the accuracy and latency tables with what each column measures, and the part
 * of each model's activation statistics that the outlier figures need.
 */
import { join } from "node:path";
import { exists } from "../fsutil.ts";
import {
  channelRows,
  defaultLayer,
  describeSource,
  histogramRows,
  layersOf,
  readStatsTables,
  scalarRows,
} from "../plots/data.ts";
import { modelName } from "../reproduce/grid.ts";
import { ACCURACY_COLUMNS, PERPLEXITY_COLUMNS } from "../reproduce/tables.ts";
import { KIT_VERSION } from "../version.ts";
import { estimateText } from "../quality/tables.ts";

/** One row of a results table (column header → value; null where a cell is missing). */
export type TableRow = Record<string, string | number | null>;

/** A results table as `tables/<name>.json` holds it. */
export interface ResultTable {
  metadata: Record<string, string>;
  rows: TableRow[];
}

/** What one column of a table measures. */
export interface ColumnNote {
  header: string;
  kind:
    | "accuracy"
    | "perplexity"
    | "average"
    | "latency"
    | "size"
    | "setting"
    | "stderr"
    | "count";
  note: string;
}

/** The statistics of one model that the outlier figures use (tensors u, y and y_had). */
export interface ModelStats {
  model: string;
  /** Where the statistics come from (model, tokens, samples). */
  source: string;
  layers: number[];
  /** The layer shown first: the one whose `y` is most outlier-dominated. */
  defaultLayer: number;
  scalars: { layer: number; tensor: string; statistic: string; value: number }[];
  /** Per-channel absmax, one array per (layer, tensor), for the layers in `channelLayers`. */
  channels: { layer: number; tensor: string; absmax: number[] }[];
  /** The layers whose channels are included (all of them unless that would be too large). */
  channelLayers: number[];
  /** Histograms of |y| and |y_had| (lib/stats/schema.ts's bins). */
  histograms: { layer: number; tensor: string; lo: number; hi: number; count: number }[];
}

/** Everything report.html embeds. */
export interface ReportData {
  kitVersion: string;
  created: string;
  config: Record<string, unknown>;
  environment: Record<string, unknown> | null;
  /** KL from fp32 per (model, method), `value [lo, hi]` cells (tables/kl.json). */
  kl: ResultTable;
  accuracy: ResultTable;
  latency: ResultTable;
  notes: { accuracy: ColumnNote[]; latency: ColumnNote[] };
  /** The quality figures of each model (figures/<model>/*.svg), drawn by the kit. */
  qualityFigures: { model: string; name: string; svg: string }[];
  stats: ModelStats[];
}

/** The quality figures shown, in order (written by the quality and sensitivity cells). */
export const QUALITY_FIGURES = [
  "kl_distribution",
  "kl_by_position",
  "sensitivity_heatmap",
  "ablation",
];

const ESTIMATE_HEADERS: Record<string, string> = {
  kl_mean: "KL mean",
  kl_median: "KL median",
  kl_p90: "KL p90",
  kl_p99: "KL p99",
  kl_max: "KL max",
  top1: "top-1 agree %",
  nll_delta: "Δ log-ppl (nats)",
  ppl_ratio: "ppl ratio",
};

/**
 * Numeric rows with `x`, `x_lo`, `x_hi` columns as `value [lo, hi]` cells (top-1 in %), other
 * columns as they are.
 */
export function estimateRows(rows: TableRow[]): TableRow[] {
  return rows.map((r) => {
    const out: TableRow = {};
    for (const [k, v] of Object.entries(r)) {
      if (k.endsWith("_lo") || k.endsWith("_hi")) continue;
      if (typeof v === "number" && typeof r[`${k}_lo`] === "number") {
        const e = { value: v, lo: r[`${k}_lo`] as number, hi: r[`${k}_hi`] as number };
        out[ESTIMATE_HEADERS[k] ?? k] = estimateText(e, k === "top1" ? 100 : 1);
      } else out[k] = v;
    }
    return out;
  });
}

/** The tensors whose statistics the figures use. */
export const FIGURE_TENSORS = ["u", "y", "y_had"] as const;

/** Per-channel values embedded at most (all models together); past it, fewer layers. */
export const MAX_CHANNEL_VALUES = 400_000;

const TASK_NAMES: Record<string, string> = {
  lambada_openai: "LAMBADA (OpenAI version): predict the last word of a passage",
  hellaswag: "HellaSwag: choose the sentence ending",
  piqa: "PIQA: physical commonsense, choose the solution",
  arc_easy: "ARC-Easy: grade-school science questions",
  arc_challenge: "ARC-Challenge: the harder ARC questions",
  winogrande: "WinoGrande: pronoun resolution",
  quamba_wikitext2: "WikiText-2 test, as the Quamba paper measures it",
  wikitext: "wikitext, as lm-eval measures it",
};

const METRIC_NOTES: Record<string, string> = {
  "lambada_openai.acc": "accuracy: the greedy continuation is the last word (0-shot)",
  "lambada_openai.perplexity": "exp(-mean log-likelihood of the last word) over passages " +
    "(lower is better)",
  acc: "accuracy: the choice with the highest log-likelihood is right (0-shot, lm-eval rules)",
  acc_norm: "length-normalized accuracy: the choice with the highest log-likelihood per " +
    "character is right",
  token_perplexity: "exp of the mean token NLL over non-overlapping windows of the joined " +
    "test split (lower is better)",
  word_perplexity: "exp(-sum log-likelihood / words), documents scored with lm-eval's rolling " +
    "windows (lower is better)",
};

/** What each column of the accuracy table measures (from lib/reproduce/tables.ts). */
export function accuracyNotes(): ColumnNote[] {
  const note = (c: { task: string; metric: string; header: string }, kind: ColumnNote["kind"]) => ({
    header: c.header,
    kind,
    note: `${TASK_NAMES[c.task] ?? c.task}; metric ${c.metric}: ${
      METRIC_NOTES[`${c.task}.${c.metric}`] ?? METRIC_NOTES[c.metric] ?? ""
    }`,
  });
  const se = (header: string): ColumnNote => ({
    header: `${header} ±`,
    kind: "stderr",
    note: `standard error of ${header} (lm-eval's: sample standard deviation / √n)`,
  });
  const n = (header: string): ColumnNote => ({
    header: `${header} n`,
    kind: "count",
    note: `documents ${header} rests on`,
  });
  return [
    ...ACCURACY_COLUMNS.flatMap((c) => [note(c, "accuracy"), se(c.header), n(c.header)]),
    {
      header: "Avg",
      kind: "average",
      note: `mean of the ${ACCURACY_COLUMNS.length} accuracy columns (empty unless all were run)`,
    },
    {
      header: "Avg ±",
      kind: "stderr",
      note: "standard error of Avg: √(Σ stderr²) / 6 (the tasks are independent samples)",
    },
    ...PERPLEXITY_COLUMNS.flatMap((c) => [note(c, "perplexity"), se(c.header), n(c.header)]),
  ];
}

/** What each column of the latency table measures, for a run's latency settings. */
export function latencyNotes(config: Record<string, unknown>): ColumnNote[] {
  const lat = (config.latency ?? {}) as Record<string, number>;
  const timing = `median of ${lat.repeats ?? "?"} timed runs after ${lat.warmup ?? "?"} warm-up ` +
    `runs, on the ${config.ep ?? "?"} execution provider`;
  return [
    { header: "prompt", kind: "setting", note: "prompt length in tokens" },
    { header: "gen", kind: "setting", note: "tokens generated after the prompt" },
    {
      header: "TTFT ms",
      kind: "latency",
      note: `time to first token: the prefill of the prompt; ${timing}`,
    },
    {
      header: "TPOT ms",
      kind: "latency",
      note: `time per output token: one decode step with the recurrent state; ${timing}`,
    },
    {
      header: "TTLT ms",
      kind: "latency",
      note: `time to last token: prefill and generating all tokens; ${timing}`,
    },
    { header: "TTLT p90 ms", kind: "latency", note: "90th percentile of the same runs" },
    { header: "weights MB", kind: "size", note: "size of the weights as the method stores them" },
    {
      header: "state MB",
      kind: "size",
      note: "recurrent state of one sequence (conv and SSM states, float32)",
    },
  ];
}

const round = (x: number) => Number.isFinite(x) ? Number(x.toPrecision(5)) : x;

async function readJson<T>(path: string, fallback: T): Promise<T> {
  return await exists(path) ? JSON.parse(await Deno.readTextFile(path)) : fallback;
}

/** Evenly spaced layers, always with `keep`, at most `n` of them. */
function pickLayers(layers: number[], n: number, keep: number): number[] {
  if (layers.length <= n) return layers;
  const picked = new Set([keep]);
  for (let i = 0; picked.size < n && i < n; i++) {
    picked.add(layers[Math.round(i * (layers.length - 1) / Math.max(1, n - 1))]);
  }
  return [...picked].sort((a, b) => a - b);
}

/**
 * The statistics of one model for the figures, read from its stats folder.
 *
 * @example
 * ```ts
 * const s = await modelStats("reports/run/stats/embedded", "embedded");
 * console.log(s.defaultLayer, s.layers);
 * ```
 */
export async function modelStats(
  dir: string,
  model: string,
  maxChannelValues = MAX_CHANNEL_VALUES,
): Promise<ModelStats> {
  const t = await readStatsTables(dir);
  const wanted = new Set<string>(FIGURE_TENSORS);
  const layers = layersOf(t.scalars, "scalars");
  const layer = defaultLayer(t.scalars);
  const chRows = channelRows(t.channels).filter((r) => wanted.has(r.tensor));
  const perLayer = chRows.length / Math.max(1, new Set(chRows.map((r) => r.layer)).size);
  const channelLayers = pickLayers(
    layers,
    Math.max(1, Math.floor(maxChannelValues / Math.max(1, perLayer))),
    layer,
  );
  const keepLayer = new Set(channelLayers);
  const channels = new Map<string, { layer: number; tensor: string; absmax: number[] }>();
  for (const r of chRows) {
    if (!keepLayer.has(r.layer)) continue;
    const k = `${r.layer}/${r.tensor}`;
    if (!channels.has(k)) channels.set(k, { layer: r.layer, tensor: r.tensor, absmax: [] });
    channels.get(k)!.absmax[r.channel] = round(r.absmax);
  }
  return {
    model,
    source: describeSource(t.scalars),
    layers,
    defaultLayer: layer,
    scalars: scalarRows(t.scalars).filter((r) => wanted.has(r.tensor) && r.statistic !== "count")
      .map((r) => ({ ...r, value: round(r.value) })),
    channels: [...channels.values()].sort((a, b) =>
      a.layer - b.layer || a.tensor.localeCompare(b.tensor)
    ),
    channelLayers,
    histograms: histogramRows(t.histograms).filter((r) => r.tensor === "y" || r.tensor === "y_had"),
  };
}

/**
 * Gathers what report.html shows from a reproduction folder (after `writeReport` wrote its
 * tables); a part that is missing (no latency cells yet, no statistics) is left empty.
 *
 * @example
 * ```ts
 * const data = await reportData("reports/2026-11-29-embedded");
 * console.log(data.accuracy.rows.length, data.stats.map((s) => s.model));
 * ```
 */
export async function reportData(out: string): Promise<ReportData> {
  const config = await readJson<Record<string, unknown>>(join(out, "config.json"), {});
  const empty = { metadata: {}, rows: [] };
  const models = ((config.models ?? []) as string[]).map(modelName);
  const stats: ModelStats[] = [];
  const perModel = Math.floor(MAX_CHANNEL_VALUES / Math.max(1, models.length));
  for (const m of models) {
    const dir = join(out, "stats", m);
    if (await exists(join(dir, "scalars.arrow"))) stats.push(await modelStats(dir, m, perModel));
  }
  const kl = await readJson<ResultTable>(join(out, "tables", "kl.json"), empty);
  const qualityFigures = [];
  for (const m of models) {
    for (const name of QUALITY_FIGURES) {
      const file = join(out, "figures", m, `${name}.svg`);
      if (await exists(file)) {
        qualityFigures.push({ model: m, name, svg: await Deno.readTextFile(file) });
      }
    }
  }
  return {
    kitVersion: KIT_VERSION,
    created: new Date().toISOString(),
    config,
    environment: await readJson(join(out, "environment.json"), null),
    kl: { metadata: kl.metadata, rows: estimateRows(kl.rows) },
    qualityFigures,
    accuracy: await readJson(join(out, "tables", "accuracy.json"), empty),
    latency: await readJson(join(out, "tables", "latency.json"), empty),
    notes: { accuracy: accuracyNotes(), latency: latencyNotes(config) },
    stats,
  };
}
