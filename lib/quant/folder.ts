/**
 * Quantized model folders as `quantize` writes them: recognising one and reading what opening it
 * needs (its manifest's method, percentile, config and source, and the activation scales). A leaf
 * module: lib/model.ts opens such folders with it, and lib/quant/quantize.ts, which builds them,
 * imports lib/model.ts, so that the arrows point one way.
 */
import { join } from "node:path";
import type { ModelConfig } from "../arch/registry.ts";
import { KitError } from "../errors.ts";
import type { LayerScales } from "./plan.ts";

/** The `format` of a quantized folder's manifest.json. */
export const QUANTIZED_FORMAT = "quamba-kit quantized model";

/** What opening a quantized folder needs from its manifest.json and scales.json. */
export interface QuantizedFolder {
  method: string;
  percentile: number;
  config: ModelConfig;
  /** The checkpoint it was made from. */
  sourceModel: string;
  /** Per layer, the activation scales (scales.json `activations`). */
  layers: LayerScales[];
}

/**
 * Whether `dir` holds a quantized model saved by the kit (its manifest says so).
 *
 * @example
 * ```ts
 * await isQuantizedFolder("out/embedded-quamba"); // true
 * ```
 */
export async function isQuantizedFolder(dir: string): Promise<boolean> {
  try {
    const m = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
    return m?.format === QUANTIZED_FORMAT;
  } catch {
    return false;
  }
}

/**
 * Reads a quantized folder's manifest and scales, or an error naming the file.
 *
 * @example
 * ```ts
 * const { method, config } = await readQuantizedFolder("out/embedded-quamba");
 * ```
 */
export async function readQuantizedFolder(dir: string): Promise<QuantizedFolder> {
  const read = async (name: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(join(dir, name)), floatReviver);
    } catch (e) {
      throw new KitError(
        `${join(dir, name)}: cannot read the quantized model's ${name}: ${(e as Error).message}`,
      );
    }
  };
  const manifest = await read("manifest.json");
  const scales = await read("scales.json");
  return {
    method: manifest.method,
    percentile: manifest.percentile,
    config: manifest.config,
    sourceModel: manifest.source_model,
    layers: scales.activations,
  };
}

/**
 * JSON of a quantized folder's files with non-finite numbers kept (a Mamba-2 config's
 * `time_step_limit` is [0, Infinity]): written as transformers 5 writes them,
 * `{"__float__": "Infinity"}`, and read back to numbers by readQuantizedFolder.
 *
 * @example
 * ```ts
 * folderJson({ time_step_limit: [0, Infinity] }); // '{\n  "time_step_limit": [\n    0,\n    {"__float__": ...
 * ```
 */
export function folderJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? { __float__: String(v) } : v),
    2,
  );
}

function floatReviver(_k: string, v: unknown): unknown {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const f = (v as Record<string, unknown>).__float__;
    if (typeof f === "string" && Object.keys(v).length === 1) return Number(f);
  }
  return v;
}
