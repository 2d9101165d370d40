// report.html's page script, part 2 of 3: accuracy, perplexity and latency figures.
(() => {
  "use strict";
  const { data, methodColor, fmt, draw, fillSelect, fyModels, rightMargin } =
    globalThis.quambaReport;
  // ---- accuracy and perplexity ----
  const accNotes = data.notes.accuracy;
  const models = [...new Set(data.accuracy.rows.map((r) => r.model))];
  const manyModels = models.length > 1;
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
})();
