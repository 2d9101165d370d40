/**
 * The paper's tables from the grid's cell results: accuracy (rows model × method; columns the
 * six zero-shot tasks, their average and the perplexities) and latency/memory, as Markdown,
 * CSV, Arrow and JSON.
 */
import { tableFromArrays } from "apache-arrow";
import { join } from "node:path";
import { KitError } from "../errors.ts";
import { writeArrowFile } from "../arrow.ts";
import type { TaskResult } from "../eval/runner.ts";
import { exists, writeFileAtomic } from "../fsutil.ts";
import { KIT_VERSION } from "../version.ts";
import { type Cell, modelName } from "./grid.ts";

/** The accuracy table's columns: task, metric, header (the paper's choices, stated). */
export const ACCURACY_COLUMNS = [
  { task: "lambada_openai", metric: "acc", header: "LAMBADA acc" },
  { task: "hellaswag", metric: "acc_norm", header: "HellaSwag acc_norm" },
  { task: "piqa", metric: "acc", header: "PIQA acc" },
  { task: "arc_easy", metric: "acc", header: "ARC-e acc" },
  { task: "arc_challenge", metric: "acc_norm", header: "ARC-c acc_norm" },
  { task: "winogrande", metric: "acc", header: "WinoGrande acc" },
] as const;
export const PERPLEXITY_COLUMNS = [
  { task: "lambada_openai", metric: "perplexity", header: "LAMBADA ppl" },
  {
    task: "quamba_wikitext2",
    metric: "token_perplexity",
    header: "WikiText-2 ppl (Quamba, token)",
  },
  { task: "wikitext", metric: "word_perplexity", header: "wikitext word ppl (lm-eval)" },
] as const;

/** Reads every cell result in `out/cells`; a damaged one is an error naming its file. */
export async function readCells(out: string): Promise<{ cell: Cell; [k: string]: unknown }[]> {
  const dir = join(out, "cells");
  if (!(await exists(dir))) return [];
  const res = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".json")) res.push(await readCell(join(dir, e.name)));
  }
  return res.sort((a, b) => a.cell.id.localeCompare(b.cell.id));
}

/**
 * One cell's result file, checked: JSON with a `cell` whose id matches the file name. (Cells are
 * written atomically, so damage comes from outside: an editor, a full disk, a copy cut short.)
 */
export async function readCell(file: string): Promise<{ cell: Cell; [k: string]: unknown }> {
  let v: { cell?: Cell };
  try {
    v = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new KitError(
      `${file}: damaged cell result (${(e as Error).message}); delete it and run ` +
        `deno task reproduce with the same options to redo that cell`,
    );
  }
  if (typeof v?.cell?.id !== "string" || typeof v.cell.kind !== "string") {
    throw new KitError(
      `${file}: not a cell result (no 'cell' with an id and a kind); delete it and run ` +
        `deno task reproduce with the same options to redo that cell`,
    );
  }
  return v as { cell: Cell; [k: string]: unknown };
}

type Row = Record<string, string | number | null>;

/**
 * Accuracy rows (model, method; per task metric its value, `±` its standard error and `n` the
 * documents it rests on; Avg and its standard error; the perplexities with their `n`, and `±`
 * where lm-eval has one: LAMBADA's, not the corpus perplexities').
 */
export function accuracyRows(
  cells: { cell: Cell; result?: TaskResult }[],
  methods: string[],
): Row[] {
  const byKey = new Map<string, Map<string, TaskResult>>();
  for (const c of cells) {
    if (c.cell.kind !== "eval" || !c.result) continue;
    const k = `${c.cell.model}\u0000${c.cell.method}`;
    if (!byKey.has(k)) byKey.set(k, new Map());
    byKey.get(k)!.set(c.cell.task!, c.result);
  }
  const rows: Row[] = [];
  const keys = [...byKey.keys()].sort((a, b) => {
    const [ma, xa] = a.split("\u0000"), [mb, xb] = b.split("\u0000");
    return ma.localeCompare(mb) || methods.indexOf(xa) - methods.indexOf(xb);
  });
  for (const k of keys) {
    const [model, method] = k.split("\u0000");
    const tasks = byKey.get(k)!;
    const row: Row = { model: modelName(model), method };
    const accs: number[] = [], ses: number[] = [];
    for (const col of ACCURACY_COLUMNS) {
      const r = tasks.get(col.task), m = r?.metrics[col.metric];
      row[col.header] = m?.value ?? null;
      row[`${col.header} ±`] = m?.stderr ?? null;
      row[`${col.header} n`] = m ? r?.nEffective ?? null : null;
      if (m) {
        accs.push(m.value);
        ses.push(m.stderr ?? NaN);
      }
    }
    const all = accs.length === ACCURACY_COLUMNS.length;
    row["Avg"] = all ? accs.reduce((a, b) => a + b, 0) / accs.length : null;
    // the tasks are independent samples: the variance of the mean of six is Σ se² / 36
    const avgSe = Math.sqrt(ses.reduce((a, b) => a + b * b, 0)) / ses.length;
    row["Avg ±"] = all && Number.isFinite(avgSe) ? avgSe : null;
    for (const col of PERPLEXITY_COLUMNS) {
      const r = tasks.get(col.task), m = r?.metrics[col.metric];
      row[col.header] = m?.value ?? null;
      // lm-eval gives a standard error for LAMBADA's perplexity, none for corpus perplexities
      row[`${col.header} ±`] = m?.stderr ?? null;
      row[`${col.header} n`] = m ? r?.nEffective ?? null : null;
    }
    rows.push(row);
  }
  return rows;
}

/**
 * The accuracy rows for reading: `value ± stderr` cells, and the number of documents in the
 * header when every row has the same (else in the cell).
 */
export function accuracyDisplayRows(rows: Row[]): Row[] {
  const headers = [
    ...ACCURACY_COLUMNS.map((c) => c.header),
    "Avg",
    ...PERPLEXITY_COLUMNS.map((c) => c.header),
  ];
  const sharedN = new Map<string, number | null>();
  for (const h of headers) {
    const ns = new Set(rows.map((r) => r[`${h} n`]).filter((n) => n !== null && n !== undefined));
    sharedN.set(h, ns.size === 1 ? [...ns][0] as number : null);
  }
  return rows.map((r) => {
    const out: Row = { model: r.model, method: r.method };
    for (const h of headers) {
      const n = sharedN.get(h), v = r[h], se = r[`${h} ±`];
      const title = n ? `${h} (n=${n})` : h;
      if (v === null || v === undefined) {
        out[title] = null;
        continue;
      }
      let text = cellText(v);
      if (typeof se === "number") text += ` ± ${cellText(se)}`;
      if (!n && typeof r[`${h} n`] === "number") text += ` (n=${r[`${h} n`]})`;
      out[title] = text;
    }
    return out;
  });
}

/** Latency rows: TTFT, TPOT, TTLT medians (ms), state size, from the latency cells. */
export function latencyRows(cells: Record<string, unknown>[], methods: string[]): Row[] {
  const rows = cells.filter((c) => (c.cell as Cell).kind === "latency").map((c) => {
    const cell = c.cell as Cell, ms = c.ms as Record<string, { median: number; p90: number }>;
    return {
      model: modelName(cell.model),
      method: cell.method!,
      prompt: c.prompt as number,
      gen: c.gen as number,
      "TTFT ms": ms.ttft.median,
      "TPOT ms": ms.tpot.median,
      "TTLT ms": ms.ttlt.median,
      "TTLT p90 ms": ms.ttlt.p90,
      "weights MB": c.weights_mb as number,
      "state MB": c.state_mb as number,
    } as Row;
  });
  return rows.sort((a, b) =>
    String(a.model).localeCompare(String(b.model)) ||
    methods.indexOf(String(a.method)) - methods.indexOf(String(b.method))
  );
}

/** A number as the tables print it (4 decimals below 10, 2 below 1000, none above). */
export function cellText(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(2) : v.toFixed(4);
}

/** A Markdown table of rows (keys of the first row are the columns). */
export function markdownTable(rows: Row[]): string {
  if (!rows.length) return "(no results)\n";
  const cols = Object.keys(rows[0]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(cols),
    line(cols.map(() => "---")),
    ...rows.map((r) => line(cols.map((c) => cellText(r[c])))),
  ].join("\n") + "\n";
}

/** CSV (RFC 4180 quoting). */
export function csvTable(rows: Row[]): string {
  if (!rows.length) return "";
  const cols = Object.keys(rows[0]);
  const q = (v: unknown) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.map(q).join(","), ...rows.map((r) => cols.map((c) => q(r[c])).join(","))].join(
    "\n",
  ) + "\n";
}

/** Writes `<name>.md`, `.csv`, `.json` and `.arrow` into `dir`. */
export async function writeTable(
  dir: string,
  name: string,
  rows: Row[],
  metadata: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(join(dir, `${name}.md`), markdownTable(rows));
  await writeFileAtomic(join(dir, `${name}.csv`), csvTable(rows));
  await writeFileAtomic(
    join(dir, `${name}.json`),
    JSON.stringify({ metadata, rows }, null, 1) + "\n",
  );
  if (rows.length) {
    const cols = Object.keys(rows[0]);
    const arrays: Record<string, unknown[] | Float64Array> = {};
    for (const c of cols) {
      arrays[c] = typeof rows.find((r) => r[c] !== null)?.[c] === "number"
        ? Float64Array.from(rows, (r) => (r[c] === null ? NaN : r[c] as number))
        : rows.map((r) => String(r[c] ?? ""));
    }
    await writeArrowFile(
      join(dir, `${name}.arrow`),
      tableFromArrays(arrays as Record<string, Float64Array>),
      {
        ...metadata,
        kit_version: KIT_VERSION,
      },
    );
  }
}
