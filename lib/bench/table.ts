/** The benchmark's result rows: a text table shaped like the paper's latency table, and Arrow. */
import { tableFromArrays } from "apache-arrow";
import type { Table } from "../arrow.ts";
import type { LatencyResult } from "./latency.ts";
import { MB } from "./memory.ts";
import { KitError } from "../errors.ts";

/** One measured (model, method). */
export interface BenchRow {
  model: string;
  method: string;
  /** "synthetic" (seeded random weights of the shape) or the checkpoint folder */
  weights: string;
  /** weight / activation bits of the projections, e.g. "W8A8" */
  bits: string;
  weightBytes: number;
  stateBytes: number;
  /** weight bytes one decode step reads (optimised graph) */
  decodeBytesPerToken: number;
  /** process peak RSS while this model was open and running (its own process by default) */
  peakRssBytes: number;
  /** RSS right after opening the model, and before */
  loadedRssBytes?: number;
  baseRssBytes?: number;
  latency: LatencyResult;
  /** decode step ÷ bandwidth floor */
  floorRatio?: number;
  floorMs?: number;
  /** cores other processes kept busy just before the measurement */
  foreignLoad?: number;
  /** the same just after it (another process that ran meanwhile shows here) */
  foreignLoadAfter?: number;
  /** fused nodes in the optimised graphs */
  fusedPrefill: Record<string, number>;
  fusedDecode: Record<string, number>;
  nodesDecode: number;
  /** kernels a decode step launches (profiled; GPU EPs) */
  kernelsPerStep?: number;
  /** of those, op types that ran on another provider than the EP's own (CPU fallbacks) */
  kernelsOffload?: Record<string, number>;
  /** Timed through the device loop (lib/device_loop.ts), and why not where it failed. */
  loop?: boolean;
  loopError?: string;
  /** The mixers' scan of the graphs (sequential, parallel or fused). */
  scan?: string;
}

const BITS: Record<string, string> = {
  fp32: "W32A32",
  fp16: "W16A32",
  quamba: "W8A8",
  w8a8: "W8A8",
  "quamba-head8": "W8A8+h8",
  "quamba-nbits": "W8A8dyn",
  "quamba-mamba-only": "W8A8+fp",
  w4a16: "W4A16",
  "quamba2-w8a8": "W8A8",
  "quamba2-w4a8": "W4A8",
  "quamba2-w4a16": "W4A16",
  "w4a16-rtn": "W4A16",
};

/** Weight / activation bits of a method (fp16 computes in float16 on GPU EPs only). */
export function bitsOf(method: string, ep = "cpu"): string {
  if (method === "fp16" && ep !== "cpu") return "W16A16";
  if ((method === "w4a16" || method.endsWith("w4a16") || method === "w4a16-rtn") && ep === "cpu") {
    return "W4A32";
  }
  return BITS[method] ?? "?";
}

const f = (x: number, d = 1) => Number.isFinite(x) ? x.toFixed(d) : "-";

/** A fixed-width text table: one line per row, speed-ups against the same model's `base`. */
export function formatTable(rows: BenchRow[], base = "fp32"): string {
  const head = [
    "model",
    "method",
    "bits",
    "size MB",
    "state MB",
    "peak RSS MB",
    "TTFT ms mean/med/p90",
    "TPOT ms mean/med/p90",
    "TTLT s mean",
    "x floor",
    "kernels",
    `speed-up vs ${base} TTFT/TPOT/TTLT`,
  ];
  const body = rows.map((r) => {
    const b = rows.find((x) => x.model === r.model && x.method === base);
    const l = r.latency;
    const sp = b
      ? `${f(b.latency.ttft.mean / l.ttft.mean, 2)}/${f(b.latency.tpot.mean / l.tpot.mean, 2)}/${
        f(b.latency.ttlt.mean / l.ttlt.mean, 2)
      }`
      : "-";
    return [
      r.model,
      r.method,
      r.bits,
      f(r.weightBytes / MB),
      f(r.stateBytes / MB, 2),
      f(r.peakRssBytes / MB, 0),
      `${f(l.ttft.mean)}/${f(l.ttft.median)}/${f(l.ttft.p90)}`,
      `${f(l.tpot.mean, 2)}/${f(l.tpot.median, 2)}/${f(l.tpot.p90, 2)}`,
      f(l.ttlt.mean / 1000, 2),
      r.floorRatio === undefined ? "-" : f(r.floorRatio, 2),
      r.kernelsPerStep === undefined ? "-" : f(r.kernelsPerStep, 0),
      sp,
    ];
  });
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i < 3 ? c.padEnd(w[i]) : c.padStart(w[i])).join("  ");
  return [line(head), w.map((n) => "-".repeat(n)).join("  "), ...body.map(line)].join("\n");
}

/**
 * Reads the rows `deno task bench` wrote: its `bench.json`, or `rows.jsonl` (one row a line,
 * written as each is measured), with an error naming the file and line of anything else.
 *
 * @example
 * ```ts
 * const rows = await readBenchRows("reports/bench/bench.json");
 * console.log(formatTable(rows));
 * ```
 */
export async function readBenchRows(path: string): Promise<BenchRow[]> {
  const text = await Deno.readTextFile(path);
  const check = (r: unknown, where: string): BenchRow => {
    const row = r as BenchRow;
    if (typeof row?.model !== "string" || typeof row?.latency?.tpot?.mean !== "number") {
      throw new KitError(`${where}: not a benchmark row (no model or latency)`);
    }
    return row;
  };
  if (path.endsWith(".jsonl")) {
    return text.split("\n").flatMap((line, i) => {
      if (!line.trim()) return [];
      try {
        return [check(JSON.parse(line), `${path}:${i + 1}`)];
      } catch (e) {
        if (e instanceof KitError) throw e;
        throw new KitError(`${path}:${i + 1}: not JSON (${(e as Error).message})`);
      }
    });
  }
  let doc: { rows?: unknown[] };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new KitError(`${path}: not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(doc.rows)) throw new KitError(`${path}: no "rows" (not a bench.json)`);
  return doc.rows.map((r, i) => check(r, `${path}: rows[${i}]`));
}

/** The rows as an Arrow table (one column per measured quantity). */
export function rowsTable(rows: BenchRow[]): Table {
  const col = (g: (r: BenchRow) => number) => Float64Array.from(rows, g);
  return tableFromArrays({
    model: rows.map((r) => r.model),
    method: rows.map((r) => r.method),
    weights: rows.map((r) => r.weights),
    bits: rows.map((r) => r.bits),
    prompt: Int32Array.from(rows, (r) => r.latency.prompt),
    gen: Int32Array.from(rows, (r) => r.latency.gen),
    repeats: Int32Array.from(rows, (r) => r.latency.ttft.n),
    weight_mb: col((r) => r.weightBytes / MB),
    state_mb: col((r) => r.stateBytes / MB),
    decode_read_mb: col((r) => r.decodeBytesPerToken / MB),
    peak_rss_mb: col((r) => r.peakRssBytes / MB),
    loaded_rss_mb: col((r) => (r.loadedRssBytes ?? NaN) / MB),
    base_rss_mb: col((r) => (r.baseRssBytes ?? NaN) / MB),
    ttft_mean_ms: col((r) => r.latency.ttft.mean),
    ttft_median_ms: col((r) => r.latency.ttft.median),
    ttft_p90_ms: col((r) => r.latency.ttft.p90),
    tpot_mean_ms: col((r) => r.latency.tpot.mean),
    tpot_median_ms: col((r) => r.latency.tpot.median),
    tpot_p90_ms: col((r) => r.latency.tpot.p90),
    step_p90_ms: col((r) => r.latency.steps.p90),
    ttlt_mean_ms: col((r) => r.latency.ttlt.mean),
    ttlt_median_ms: col((r) => r.latency.ttlt.median),
    ttlt_p90_ms: col((r) => r.latency.ttlt.p90),
    floor_ms: col((r) => r.floorMs ?? NaN),
    floor_ratio: col((r) => r.floorRatio ?? NaN),
    foreign_load: col((r) => r.foreignLoad ?? NaN),
    foreign_load_after: col((r) => r.foreignLoadAfter ?? NaN),
    decode_nodes: Int32Array.from(rows, (r) => r.nodesDecode),
    decode_kernels: col((r) => r.kernelsPerStep ?? NaN),
    kernels_offload: rows.map((r) => JSON.stringify(r.kernelsOffload ?? {})),
    fused_decode: rows.map((r) => JSON.stringify(r.fusedDecode)),
    fused_prefill: rows.map((r) => JSON.stringify(r.fusedPrefill)),
  });
}

/** The rows as a Markdown table (for a README), speed-ups against the same model's `base`. */
export function formatMarkdown(rows: BenchRow[], base = "fp32"): string {
  const head =
    `| model | method | bits | size MB | state MB | peak RSS MB | TTFT ms (mean / med / p90) | TPOT ms (mean / med / p90) | TTLT s | × floor | kernels / step | speed-up vs ${base} TTFT / TPOT / TTLT |`;
  const lines = rows.map((r) => {
    const b = rows.find((x) => x.model === r.model && x.method === base);
    const l = r.latency;
    const sp = b
      ? `${f(b.latency.ttft.mean / l.ttft.mean, 2)} / ${
        f(b.latency.tpot.mean / l.tpot.mean, 2)
      } / ${f(b.latency.ttlt.mean / l.ttlt.mean, 2)}`
      : "-";
    return `| ${r.model} | ${r.method} | ${r.bits} | ${f(r.weightBytes / MB)} | ${
      f(r.stateBytes / MB, 2)
    } | ${f(r.peakRssBytes / MB, 0)} | ${f(l.ttft.mean)} / ${f(l.ttft.median)} / ${
      f(l.ttft.p90)
    } | ${f(l.tpot.mean, 2)} / ${f(l.tpot.median, 2)} / ${f(l.tpot.p90, 2)} | ${
      f(l.ttlt.mean / 1000, 2)
    } | ${r.floorRatio === undefined ? "-" : f(r.floorRatio, 2)} | ${
      r.kernelsPerStep === undefined ? "-" : f(r.kernelsPerStep, 0)
    } | ${sp} |`;
  });
  return [head, `|${"---|".repeat(12)}`, ...lines].join("\n");
}
