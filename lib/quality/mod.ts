/**
 * What quantization changes, measured where accuracy cannot: per-token KL from the fp32 model,
 * top-1 agreement and the change in log-perplexity on held-out text with cluster-bootstrap
 * intervals (`compareMethods`), the KL each tensor adds alone (`sensitivity`), and the
 * percentile / Hadamard ablation (`percentileAblation`); their tables and figures.
 *
 * @example
 * ```ts
 * import { loadModel } from "../../mod.ts";
 * import { compareMethods } from "./mod.ts";
 * const fp = await loadModel("data/models/embedded");
 * const ids = fp.tokenizer.encode(await Deno.readTextFile("data/heldout/time_machine.txt"));
 * const c = await compareMethods(fp, ["w8a8", "quamba"], { ids, tokens: 4096 });
 * console.log(c.methods.map((m) => [m.method, m.kl.mean]));
 * ```
 * @module
 */
export {
  compareMethods,
  type CompareOptions,
  type Comparison,
  type ComparisonSummary,
  KL_STATISTICS,
  type MethodQuality,
} from "./compare.ts";
export {
  type BootstrapOptions,
  clusterDraws,
  ClusteredSample,
  type Estimate,
} from "./bootstrap.ts";
export { compareLogits, klFromLog, logSoftmax } from "./divergence.ts";
export {
  ABLATION_PERCENTILES,
  type AblationRow,
  percentileAblation,
  sensitivity,
  SENSITIVITY_GROUPS,
  type SensitivityGroup,
  type SensitivityRow,
} from "./sensitivity.ts";
export { openVariant, type PointFilter, type VariantSource } from "./variants.ts";
export { runQuality, writeComparison, writeSensitivity } from "./report.ts";
export { klDisplayRows, klRows } from "./tables.ts";
