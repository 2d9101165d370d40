// report.html's page script, part 1 of 3: the data and what the figures share, as the global
// `quambaReport`. Plain browser JavaScript run after the inlined Observable Plot (global `Plot`).
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

  /** Facet rows by model (when there are several), labelled on the right. */
  const fyModels = (names) =>
    names.length > 1 ? { label: null, axis: "right", tickSize: 0 } : undefined;
  const rightMargin = (names) =>
    names.length > 1 ? 16 + 6.5 * Math.max(...names.map((n) => String(n).length)) : 20;
  globalThis.quambaReport = {
    data,
    COLORS,
    methodColor,
    fmt,
    pow10Axis,
    byId,
    draw,
    fillSelect,
    fyModels,
    rightMargin,
  };
})();
