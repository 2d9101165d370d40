/**
 * The markup of report.html: static HTML tables and notes, containers that the page script
 * fills with Observable Plot figures, and the data and scripts inlined.
 */
import type { ColumnNote, ReportData, ResultTable, TableRow } from "./data.ts";

/**
 * Escapes text for HTML content and attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<a href="x">'); // "&lt;a href=&quot;x&quot;&gt;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/**
 * JSON that is safe inside a `<script>` element (no `<`, so no `</script>` or `<!--`).
 *
 * @example
 * ```ts
 * scriptJson({ s: "</script>" }); // '{"s":"\\u003c/script>"}'
 * ```
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(
    /\u2028|\u2029/g,
    (c) => c === "\u2028" ? "\\u2028" : "\\u2029",
  );
}

/** A table cell's text, as the Markdown tables print it. */
function cellText(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(2) : v.toFixed(4);
}

/**
 * A results table as an HTML table; column headers carry their note as a tooltip.
 *
 * @example
 * ```ts
 * htmlTable({ metadata: {}, rows: [{ method: "fp32", "PIQA acc": 0.7 }] }, [], "accuracy");
 * ```
 */
export function htmlTable(table: ResultTable, notes: ColumnNote[], id: string): string {
  if (!table.rows.length) return `<p class="empty" id="${id}">No results yet.</p>`;
  const cols = Object.keys(table.rows[0]);
  const note = new Map(notes.map((n) => [n.header, n.note]));
  const num = (r: TableRow, c: string) => typeof r[c] === "number";
  const head = cols.map((c) => {
    const t = note.get(c);
    return `<th${t ? ` title="${escapeHtml(t)}"` : ""}>${escapeHtml(c)}</th>`;
  }).join("");
  const body = table.rows.map((r) =>
    `<tr>${
      cols.map((c) =>
        `<td${num(r, c) ? ` class="num" title="${r[c]}"` : ""}>${escapeHtml(cellText(r[c]))}</td>`
      ).join("")
    }</tr>`
  ).join("\n");
  return `<div class="scroll"><table id="${id}"><thead><tr>${head}</tr></thead>` +
    `<tbody>\n${body}\n</tbody></table></div>`;
}

function notesList(notes: ColumnNote[], cols: Set<string>): string {
  const items = notes.filter((n) => cols.has(n.header)).map((n) =>
    `<dt>${escapeHtml(n.header)}</dt><dd>${escapeHtml(n.note)}</dd>`
  );
  return items.length ? `<dl class="notes">${items.join("")}</dl>` : "";
}

function keyValues(obj: Record<string, unknown> | null, id: string): string {
  if (!obj) return `<p class="empty">Not recorded.</p>`;
  const rows = Object.entries(obj).map(([k, v]) =>
    `<tr><th>${escapeHtml(k)}</th><td>${
      escapeHtml(typeof v === "string" ? v : JSON.stringify(v))
    }</td></tr>`
  );
  return `<table class="kv" id="${id}"><tbody>${rows.join("")}</tbody></table>`;
}

function figureBox(id: string, title: string, caption: string, controls = ""): string {
  return `<figure class="fig" id="${id}-box"><figcaption><b>${escapeHtml(title)}</b> ` +
    `${escapeHtml(caption)}</figcaption>${controls}` +
    `<div class="plot" id="${id}" data-figure="${id}"></div></figure>`;
}

function select(id: string, label: string): string {
  return `<label class="control">${escapeHtml(label)} <select id="${id}"></select></label>`;
}

const STYLE = `
:root { color-scheme: light; --fg: #1b1b1f; --muted: #5f6368; --line: #dadce0; }
body { font: 15px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0 auto; max-width: 1100px;
  padding: 16px 24px 48px; }
h1 { font-size: 1.5em; margin: 0.4em 0 0.1em; } h2 { margin-top: 1.6em; border-bottom: 1px solid
  var(--line); padding-bottom: 4px; } .sub { color: var(--muted); margin: 0 0 1em; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; }
tbody td { white-space: nowrap; }
thead th { border-bottom: 2px solid #999; vertical-align: bottom; cursor: help; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { font-weight: 600; white-space: nowrap; } table.kv td { font-family: ui-monospace,
  monospace; font-size: 12px; word-break: break-all; }
dl.notes { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 13px;
  color: var(--muted); } dl.notes dt { font-weight: 600; color: var(--fg); } dl.notes dd { margin: 0; }
figure.fig { margin: 20px 0; } figcaption { margin-bottom: 6px; } figcaption b { margin-right: 4px; }
.control { margin-right: 16px; font-size: 14px; } .controls { margin: 8px 0; }
.plot { margin-top: 6px; min-height: 40px; } .plot .error { color: #b00020; }
.empty { color: var(--muted); font-style: italic; }
.static-fig svg { max-width: 100%; height: auto; }
footer { margin-top: 3em; color: var(--muted); font-size: 12px; }
`;

const FIGURE_TITLES: Record<string, string> = {
  kl_distribution: "Per-token KL from fp32, every method.",
  kl_by_position: "KL by position in the window.",
  sensitivity_heatmap: "Per-tensor sensitivity.",
  ablation: "Ablation: percentile of u and Hadamard on y.",
};

/** The KL table and the quality figures (static SVG drawn by the kit). */
function qualitySection(data: ReportData): string {
  if (!data.kl.rows.length && !data.qualityFigures.length) {
    return `<p class="empty">No quality results in this folder (tables/kl.json).</p>`;
  }
  const text = data.kl.metadata.text ? ` on ${escapeHtml(data.kl.metadata.text)}` : "";
  return `<p>How far each method's next-token distributions are from the fp32 model's${text}: ` +
    `per-token KL(fp32 ‖ method) over the full vocabulary (nats), how often the top token is ` +
    `fp32's, and the change in log-perplexity. Every number has its 95% interval in brackets ` +
    `(${escapeHtml(data.kl.metadata.interval ?? "bootstrap over windows")}). Unlike the ` +
    `accuracies below, these tell methods apart on a small model.</p>
${htmlTable(data.kl, [], "table-kl")}
${
      data.qualityFigures.map((f) =>
        `<figure class="fig static-fig" id="fig-${f.name}-${escapeHtml(f.model)}"><figcaption><b>` +
        `${escapeHtml(FIGURE_TITLES[f.name] ?? f.name)}</b> ${escapeHtml(f.model)}</figcaption>` +
        `${f.svg.replace(/^<\?xml[^>]*>\s*/, "")}</figure>`
      ).join("\n")
    }`;
}

/**
 * The whole page: tables, notes, figure containers, the run's config and environment, the data
 * as JSON and the two scripts inline (no network needed to open it).
 *
 * @example
 * ```ts
 * const html = reportHtml(await reportData(out), await reportAssets());
 * ```
 */
export function reportHtml(data: ReportData, assets: { plot: string; client: string }): string {
  const models = data.stats.map((s) => s.model);
  const title = `quamba-kit report: ${
    ((data.config.models ?? []) as string[]).map((m) => m.split("/").pop()).join(", ") || "run"
  }`;
  const accCols = new Set(data.accuracy.rows.length ? Object.keys(data.accuracy.rows[0]) : []);
  const latCols = new Set(data.latency.rows.length ? Object.keys(data.latency.rows[0]) : []);
  const hasPpl = data.accuracy.rows.some((r) =>
    data.notes.accuracy.some((n) => n.kind === "perplexity" && typeof r[n.header] === "number")
  );
  const hasAcc = data.accuracy.rows.some((r) =>
    data.notes.accuracy.some((n) => n.kind !== "perplexity" && typeof r[n.header] === "number")
  );
  const ep = String(data.config.ep ?? "?");
  const lat = (data.config.latency ?? {}) as Record<string, number>;
  const statsSection = data.stats.length
    ? `<div class="controls">${models.length > 1 ? select("model-select", "model") : ""}${
      select("layer-select", "layer")
    }<span id="stats-source" class="sub"></span></div>
${
      figureBox(
        "fig-channels",
        "Outlier channels in one layer.",
        "Per-channel absmax of u (the SSM input), y (the out_proj input) and y_had (y after the " +
          "Hadamard rotation), log scale; dashed lines: the per-tensor p99.999 of |x|. A few " +
          "channels of y carry values far above the rest; the rotation spreads them over all " +
          "channels.",
      )
    }
${
      figureBox(
        "fig-clipping",
        "Clipping the SSM input u.",
        "Per layer: the absmax of |u| (what int8 would have to cover without clipping) against its " +
          "p99.999 and the EMA of per-sample p99.999 (Quamba's clipping bound); the shaded gap is " +
          "the range clipping gives up for a finer int8 step.",
      )
    }
${
      figureBox(
        "fig-hadamard",
        "Rotating the out_proj input y.",
        "Histograms of |y| and |y_had| in the chosen layer (share of values per bin, log-log); " +
          "vertical lines: each tensor's absmax, the range a per-tensor int8 scale must cover.",
      )
    }`
    : `<p class="empty">No activation statistics in this folder (stats/&lt;model&gt;/).</p>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="quamba-kit ${escapeHtml(data.kitVersion)}">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="sub">Int8 quantization of Mamba (Quamba) on ONNX Runtime: ${
    escapeHtml(String(((data.config.methods ?? []) as string[]).join(", ")))
  }. Report made ${escapeHtml(data.created)} by quamba-kit ${
    escapeHtml(data.kitVersion)
  }; this file is self-contained (figures drawn by Observable Plot, inlined).</p>
<nav><a href="#quality">Distance from fp32</a><a href="#accuracy">Accuracy</a><a href="#latency">Latency and size</a>` +
    `<a href="#outliers">Outliers</a><a href="#run">Run</a></nav>

<h2 id="quality">Distance from fp32</h2>
${qualitySection(data)}

<h2 id="accuracy">Accuracy</h2>
<p>Rows: model × method. Accuracies are 0-shot, higher is better; perplexities, lower is better${
      data.config.limit
        ? `; at most ${escapeHtml(String(data.config.limit))} examples per task`
        : ""
    }. Columns ending in ± are standard errors, in n the documents a number rests on. Hover a ` +
    `header for its metric.</p>
${htmlTable(data.accuracy, data.notes.accuracy, "table-accuracy")}
${
      notesList(
        data.notes.accuracy.filter((n) => n.kind !== "stderr" && n.kind !== "count"),
        accCols,
      )
    }
${
      hasAcc
        ? figureBox(
          "fig-accuracy",
          "Accuracy per method.",
          "One panel per task column that has results (and the average when all six do).",
        )
        : ""
    }
${
      hasPpl
        ? figureBox(
          "fig-perplexity",
          "Perplexity per method.",
          "Lower is better.",
          `<div class="controls">${select("ppl-select", "column")}</div>`,
        )
        : ""
    }

<h2 id="latency">Latency and size</h2>
<p>On the ${escapeHtml(ep)} execution provider: a prompt of ${lat.prompt ?? "?"} tokens, then ${
      lat.gen ?? "?"
    } generated tokens; medians in milliseconds. Hover a header for its meaning.</p>
${htmlTable(data.latency, data.notes.latency, "table-latency")}
${notesList(data.notes.latency, latCols)}
${
      data.latency.rows.length
        ? figureBox(
          "fig-latency-methods",
          "Latency per method.",
          "The chosen latency per method; for TTLT the tick marks the p90.",
          `<div class="controls">${select("lat-select", "latency")}</div>`,
        ) + "\n" +
          figureBox(
            "fig-latency-size",
            "Latency against weight size.",
            "Each point is one (model, method): weights in MB against the latency chosen above.",
          )
        : ""
    }

<h2 id="outliers">Outliers before and after clipping and rotation</h2>
${statsSection}

<h2 id="run">Run</h2>
<h3>Configuration</h3>
${keyValues(data.config, "table-config")}
<h3>Environment</h3>
${keyValues(data.environment, "table-environment")}
<footer>Tables also in tables/ as Markdown, CSV, JSON and Arrow; statistics in stats/&lt;model&gt;/ ` +
    `as Arrow; static figures in figures/&lt;model&gt;/ as SVG and PNG.</footer>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${assets.plot.replace(/<\/script/gi, "<\\/script")}</script>
<script>${assets.client.replace(/<\/script/gi, "<\\/script")}</script>
</body>
</html>
`;
}
