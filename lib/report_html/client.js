// The script of report.html: draws the figures with Observable Plot (the global `Plot`, inlined
// before this script) from the JSON in #report-data. Plain browser JavaScript, no modules.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const methods = data.config.methods ?? [];
  const COLORS = { u: "#4e79a7", y: "#e15759", y_had: "#59a14f" };
  const methodColor = {
    domain: [...new Set([...methods, ...data.accuracy.rows.map((r) => r.method)])],
    scheme: "tableau10",
    legend: true,
  };
  const fmt = (x) =>
    x === null || x === undefined || Number.isNaN(x)
      ? "–"
      : Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3)
      ? x.toExponential(2)
      : String(Number(x.toPrecision(4)));
  const SUP = { "-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶" };
  Object.assign(SUP, { "7": "⁷", "8": "⁸", "9": "⁹" });
  /** A log axis over whole decades: domain [10^lo, 10^hi], ticks at most `max` powers of ten. */
  const pow10Axis = (values, max = 12) => {
    const pos = values.filter((v) => v > 0);
    const lo = Math.floor(Math.log10(Math.min(...pos))),
      hi = Math.ceil(Math.log10(Math.max(...pos)));
    const step = Math.max(1, Math.ceil((hi - lo + 1) / max));
    const ticks = [];
    for (let e = hi; e >= lo; e -= step) ticks.unshift(10 ** e);
    return { type: "log", domain: [10 ** lo, 10 ** hi], ticks, tickFormat: pow10Label };
  };
  const pow10Label = (x) => {
    const e = Math.round(Math.log10(x));
    return e >= -2 && e <= 3
      ? String(Number(x.toPrecision(1)))
      : `10${String(e).replace(/./g, (c) => SUP[c])}`;
  };
  const widthOf = (el) => Math.max(480, Math.min(1050, el.clientWidth || 900));
  const byId = (id) => document.getElementById(id);

  /** Draws one figure into its container; an error is shown there and logged. */
  function draw(id, make) {
    const el = byId(id);
    if (!el) return;
    el.replaceChildren();
    try {
      el.append(make(widthOf(el)));
      el.dataset.rendered = "true";
    } catch (e) {
      el.dataset.rendered = "error";
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = `This figure could not be drawn: ${e.message}`;
      el.append(p);
      console.error(`${id}:`, e);
    }
  }

  function fillSelect(id, options, value, onChange) {
    const sel = byId(id);
    if (!sel) return;
    for (const o of options) sel.append(new Option(String(o.label ?? o), String(o.value ?? o)));
    sel.value = String(value);
    sel.addEventListener("change", () => onChange(sel.value));
  }

  // ---- accuracy and perplexity ----
  const accNotes = data.notes.accuracy;
  const models = [...new Set(data.accuracy.rows.map((r) => r.model))];
  const manyModels = models.length > 1;
  /** Facet rows by model (when there are several), labelled on the right. */
  const fyModels = (names) =>
    names.length > 1 ? { label: null, axis: "right", tickSize: 0 } : undefined;
  const rightMargin = (names) =>
    names.length > 1 ? 16 + 6.5 * Math.max(...names.map((n) => String(n).length)) : 20;
  const long = (kinds) =>
    accNotes.filter((n) => kinds.includes(n.kind)).flatMap((n) =>
      data.accuracy.rows.filter((r) => typeof r[n.header] === "number").map((r) => ({
        model: r.model,
        method: r.method,
        column: n.header,
        value: r[n.header],
      }))
    );

  const acc = long(["accuracy", "average"]);
  if (acc.length) {
    const columns = accNotes.map((n) => n.header).filter((h) => acc.some((d) => d.column === h));
    draw("fig-accuracy", (width) =>
      Plot.plot({
        width,
        height: manyModels ? 180 * models.length + 60 : 300,
        marginBottom: 20,
        x: { axis: null, domain: methodColor.domain },
        fx: { domain: columns, label: null },
        fy: fyModels(models),
        marginRight: rightMargin(models),
        y: {
          label: "accuracy",
          grid: true,
          domain: [0, Math.max(...acc.map((d) => d.value)) * 1.1],
        },
        color: methodColor,
        marks: [
          Plot.barY(acc, {
            fx: "column",
            fy: manyModels ? "model" : undefined,
            x: "method",
            y: "value",
            fill: "method",
            tip: { format: { fx: false, fy: false } },
            channels: { model: "model", column: "column" },
          }),
          Plot.ruleY([0]),
        ],
      }));
  }

  const ppl = long(["perplexity"]);
  if (ppl.length) {
    const columns = accNotes.filter((n) => n.kind === "perplexity").map((n) => n.header)
      .filter((h) => ppl.some((d) => d.column === h));
    const render = (column) =>
      draw("fig-perplexity", (width) => {
        const d = ppl.filter((x) => x.column === column);
        return Plot.plot({
          width,
          height: manyModels ? 160 * models.length + 60 : 280,
          x: {
            label: null,
            domain: methodColor.domain.filter((m) => d.some((x) => x.method === m)),
          },
          fy: fyModels(models),
          marginRight: rightMargin(models),
          marginLeft: 60,
          y: { label: `${column} (lower is better)`, grid: true, tickFormat: "~s" },
          color: methodColor,
          marks: [
            Plot.barY(d, {
              x: "method",
              y: "value",
              fy: manyModels ? "model" : undefined,
              fill: "method",
              tip: true,
              channels: { model: "model" },
            }),
            Plot.text(d, {
              x: "method",
              y: "value",
              fy: manyModels ? "model" : undefined,
              text: (x) => fmt(x.value),
              dy: -7,
              fontSize: 11,
            }),
            Plot.ruleY([0]),
          ],
        });
      });
    fillSelect("ppl-select", columns, columns[0], render);
    render(columns[0]);
  }

  // ---- latency ----
  const lat = data.latency.rows;
  if (lat.length) {
    const metrics = ["TTLT ms", "TTFT ms", "TPOT ms"].filter((m) =>
      lat.some((r) => typeof r[m] === "number")
    );
    const render = (metric) => {
      const latModels = [...new Set(lat.map((r) => r.model))];
      const many = latModels.length > 1;
      draw("fig-latency-methods", (width) =>
        Plot.plot({
          width,
          height: 30 + 22 * new Set(lat.map((r) => r.method)).size * latModels.length,
          marginLeft: 120,
          x: { label: `${metric} (median)`, grid: true },
          y: {
            label: null,
            domain: methodColor.domain.filter((m) => lat.some((r) => r.method === m)),
          },
          fy: fyModels(latModels),
          marginRight: rightMargin(latModels),
          color: { ...methodColor, legend: false },
          marks: [
            Plot.barX(lat, {
              y: "method",
              x: metric,
              fy: many ? "model" : undefined,
              fill: "method",
              tip: true,
              channels: { model: "model", "weights MB": "weights MB" },
            }),
            metric === "TTLT ms" && lat.some((r) => typeof r["TTLT p90 ms"] === "number")
              ? Plot.tickX(lat, {
                y: "method",
                x: "TTLT p90 ms",
                fy: many ? "model" : undefined,
                stroke: "#333",
              })
              : null,
            Plot.ruleX([0]),
          ],
        }));
      draw("fig-latency-size", (width) =>
        Plot.plot({
          width,
          height: 340,
          grid: true,
          inset: 12,
          x: { label: "weights MB" },
          y: { label: `${metric} (median)` },
          color: methodColor,
          symbol: many ? { legend: true } : undefined,
          marks: [
            Plot.dot(lat, {
              x: "weights MB",
              y: metric,
              fill: "method",
              symbol: many ? "model" : undefined,
              r: 6,
              stroke: "white",
              tip: true,
              channels: { model: "model", method: "method", "state MB": "state MB" },
            }),
          ],
        }));
    };
    fillSelect("lat-select", metrics, metrics[0], render);
    render(metrics[0]);
  }

  // ---- outliers (activation statistics) ----
  if (data.stats.length) {
    let stats = data.stats[0];
    let layer = stats.defaultLayer;
    const scalar = (l, tensor, statistic) =>
      stats.scalars.find((r) => r.layer === l && r.tensor === tensor && r.statistic === statistic)
        ?.value;

    const drawChannels = () =>
      draw("fig-channels", (width) => {
        const points = stats.channels.filter((c) => c.layer === layer).flatMap((c) =>
          c.absmax.map((absmax, channel) => ({ tensor: c.tensor, channel, absmax }))
        ).filter((d) => d.absmax > 0);
        if (!points.length) throw new Error(`no per-channel statistics for layer ${layer}`);
        const tensors = ["u", "y", "y_had"].filter((t) => points.some((d) => d.tensor === t));
        const bounds = tensors.map((tensor) => ({
          tensor,
          value: scalar(layer, tensor, "p99.999"),
        })).filter((b) => b.value > 0);
        return Plot.plot({
          width,
          height: 150 * tensors.length + 50,
          marginLeft: 60,
          marginRight: 60,
          x: { label: "channel" },
          y: {
            ...pow10Axis(points.map((d) => d.absmax), 8),
            label: "per-channel absmax",
            grid: true,
          },
          fy: { domain: tensors, label: null },
          color: { domain: Object.keys(COLORS), range: Object.values(COLORS) },
          marks: [
            Plot.frame({ stroke: "#ddd" }),
            Plot.dot(points, {
              x: "channel",
              y: "absmax",
              fy: "tensor",
              fill: "tensor",
              r: 1.8,
              tip: true,
            }),
            Plot.ruleY(bounds, {
              y: "value",
              fy: "tensor",
              stroke: "#f28e2b",
              strokeDasharray: "4,3",
            }),
            Plot.text(bounds, {
              y: "value",
              fy: "tensor",
              frameAnchor: "left",
              textAnchor: "start",
              text: (b) => `p99.999 of |${b.tensor}|: ${fmt(b.value)}`,
              dx: 4,
              dy: -7,
              fill: "#b35c00",
              fontSize: 11,
            }),
          ],
        });
      });

    const drawClipping = () =>
      draw("fig-clipping", (width) => {
        const series = [
          ["absmax", "absmax (no clipping)"],
          ["p99.999", "p99.999 of |u|"],
          ["ema_p99.999", "EMA of per-sample p99.999 (Quamba)"],
        ];
        const label = Object.fromEntries(series);
        const rows = stats.scalars.filter((r) =>
          r.tensor === "u" && label[r.statistic] && r.value > 0
        )
          .map((r) => ({ ...r, series: label[r.statistic] }));
        if (!rows.length) throw new Error("no absmax or p99.999 of u in the statistics");
        const gap = stats.layers.map((l) => ({
          layer: l,
          hi: scalar(l, "u", "absmax"),
          lo: scalar(l, "u", "p99.999"),
        })).filter((g) => g.hi > 0 && g.lo > 0);
        return Plot.plot({
          width,
          height: 320,
          marginLeft: 60,
          x: {
            label: "layer",
            ticks: stats.layers.length <= 32 ? stats.layers : undefined,
            tickFormat: "d",
          },
          y: { type: "log", label: "|u|", grid: true },
          color: {
            legend: true,
            domain: series.map((s) => s[1]),
            range: ["#4e79a7", "#f28e2b", "#59a14f"],
          },
          marks: [
            Plot.areaY(gap, { x: "layer", y1: "lo", y2: "hi", fill: "#4e79a7", fillOpacity: 0.12 }),
            Plot.ruleX([layer], { stroke: "#999", strokeDasharray: "2,3" }),
            Plot.line(rows, { x: "layer", y: "value", stroke: "series", marker: "dot" }),
            Plot.tip(
              rows,
              Plot.pointer({
                x: "layer",
                y: "value",
                title: (d) => `layer ${d.layer}\n${d.series}: ${fmt(d.value)}`,
              }),
            ),
          ],
        });
      });

    const drawHadamard = () =>
      draw("fig-hadamard", (width) => {
        const points = [], maxes = [];
        for (const tensor of ["y", "y_had"]) {
          const mine = stats.histograms.filter((r) => r.layer === layer && r.tensor === tensor);
          const total = mine.reduce((s, r) => s + r.count, 0);
          const bins = mine.filter((r) => r.lo > 0).sort((a, b) => a.lo - b.lo);
          bins.forEach((r, i) => {
            if (i > 0 && r.lo > bins[i - 1].hi * (1 + 1e-9)) {
              points.push({ tensor, x: Math.sqrt(bins[i - 1].hi * r.lo), share: NaN });
            }
            points.push({
              tensor,
              x: Math.sqrt(r.lo * r.hi),
              share: r.count / total,
              lo: r.lo,
              hi: r.hi,
            });
          });
          const m = scalar(layer, tensor, "absmax");
          if (m > 0) maxes.push({ tensor, absmax: m, row: maxes.length });
        }
        if (!points.length) throw new Error(`no histograms of y and y_had for layer ${layer}`);
        const shown = points.filter((p) => p.share > 0);
        return Plot.plot({
          width,
          height: 340,
          marginLeft: 60,
          x: { ...pow10Axis(shown.map((p) => p.x), 14), label: "|x| (bin centre)", grid: true },
          y: { ...pow10Axis(shown.map((p) => p.share), 8), label: "share of values", grid: true },
          color: { legend: true, domain: ["y", "y_had"], range: [COLORS.y, COLORS.y_had] },
          marks: [
            Plot.line(points, { x: "x", y: "share", stroke: "tensor", strokeWidth: 1.8 }),
            Plot.ruleX(maxes, { x: "absmax", stroke: "tensor", strokeDasharray: "5,3" }),
            ...maxes.map((m) =>
              Plot.text([m], {
                x: "absmax",
                frameAnchor: "top",
                text: (d) => `absmax of |${d.tensor}|: ${fmt(d.absmax)}`,
                fill: "tensor",
                textAnchor: "end",
                dx: -4,
                dy: 8 + 15 * m.row,
                fontSize: 11,
              })
            ),
            Plot.tip(
              points.filter((p) => !Number.isNaN(p.share)),
              Plot.pointer({
                x: "x",
                y: "share",
                title: (d) =>
                  `${d.tensor}: |x| in [${fmt(d.lo)}, ${fmt(d.hi)})\nshare ${fmt(d.share)}`,
              }),
            ),
          ],
        });
      });

    const drawLayer = () => {
      drawChannels();
      drawClipping();
      drawHadamard();
    };
    const source = () => {
      const part = stats.channelLayers.length < stats.layers.length
        ? `; per-channel values embedded for ${stats.channelLayers.length} of ${stats.layers.length} layers`
        : "";
      byId("stats-source").textContent = `statistics of ${stats.source}${part}`;
    };
    const layerSelect = () => {
      const sel = byId("layer-select");
      sel.replaceChildren();
      for (const l of stats.channelLayers) {
        sel.append(
          new Option(l === stats.defaultLayer ? `${l} (most outliers in y)` : String(l), l),
        );
      }
      sel.value = String(layer);
    };
    byId("layer-select").addEventListener("change", (e) => {
      layer = Number(e.target.value);
      drawLayer();
    });
    fillSelect("model-select", data.stats.map((s) => s.model), stats.model, (m) => {
      stats = data.stats.find((s) => s.model === m);
      layer = stats.defaultLayer;
      layerSelect();
      source();
      drawLayer();
    });
    layerSelect();
    source();
    drawLayer();
  }
})();
