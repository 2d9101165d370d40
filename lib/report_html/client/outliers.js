// report.html's page script, part 3 of 3: the outlier figures, by model and layer.
(() => {
  "use strict";
  const { data, COLORS, fmt, pow10Axis, byId, draw, fillSelect } = globalThis.quambaReport;
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
