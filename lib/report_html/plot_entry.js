// The entry of lib/report_html/plot.bundle.js (see scripts/bundle_plot.ts): Observable Plot and
// the parts of d3 it uses, as one script that sets the global `Plot`.
import * as Plot from "@observablehq/plot";

globalThis.Plot = Plot;
