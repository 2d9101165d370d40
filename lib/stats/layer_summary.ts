/**
 * The one-line-per-layer summary `deno task stats` prints: for a Mamba mixer the SSM input's and
 * output's ranges (Quamba's outlier story), for an attention layer its inputs' ranges, and for
 * hybrid models the feed-forward input's, so that attention and Mamba layers read side by side.
 */
import type { ActivationStats } from "./collect.ts";

/**
 * The summary lines of `stats` (layers 0 .. layers-1).
 *
 * @example
 * ```ts
 * for (const line of layerSummary(stats, 24)) console.log(line);
 * ```
 */
export function layerSummary(stats: ActivationStats, layers: number): string[] {
  const hybrid = [...stats.stats.values()].some((e) => e.tensor === "ffn.input");
  const col = (v: number | undefined, digits: number, w: number) =>
    (v === undefined ? "-" : v.toFixed(digits)).padStart(w);
  const head = `layer  absmax(u)  p99.999(u)  absmax(y)  absmax(y_had)  kurtosis(y)`;
  const lines = [hybrid ? `layer  mixer      ${head.slice(7)}  absmax(attn)  absmax(ffn)` : head];
  for (let i = 0; i < layers; i++) {
    const u = stats.get(i, "u"), y = stats.get(i, "y"), yh = stats.get(i, "y_had");
    const mamba = `${col(u?.absmax, 3, 9)}  ${col(u?.sketch.quantile(0.99999), 3, 10)}  ` +
      `${col(y?.absmax, 2, 9)}  ${col(yh?.absmax, 2, 13)}  ${col(y?.moments.kurtosis, 1, 11)}`;
    if (!hybrid) {
      lines.push(`${String(i).padStart(5)}  ${mamba}`);
      continue;
    }
    const kind = u ? "mamba" : "attention";
    const attn = stats.get(i, "attn.input"), ffn = stats.get(i, "ffn.input");
    lines.push(
      `${String(i).padStart(5)}  ${kind.padEnd(9)}  ${mamba}  ${col(attn?.absmax, 2, 12)}  ${
        col(ffn?.absmax, 2, 11)
      }`,
    );
  }
  return lines;
}

/** Prints layerSummary to standard output. */
export function printLayerSummary(stats: ActivationStats, layers: number): void {
  for (const line of layerSummary(stats, layers)) console.log(line);
}
