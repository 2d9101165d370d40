/**
 * The architectures the kit builds, by `model_type`: each is one folder (lib/arch/<name>/) with
 * its config, expected tensors, graph builders, state layout and float64 reference. Loading,
 * quantized folders, statistics, evaluation and the runtime find an architecture here from a
 * config and never branch on which one it is.
 */
import { KitError } from "../errors.ts";
import { JAMBA } from "./jamba/mod.ts";
import { MAMBA } from "./mamba/mod.ts";
import { MAMBA2 } from "./mamba2/mod.ts";
import type { Architecture, ModelConfig } from "./types.ts";

export type {
  Architecture,
  ModelConfig,
  ReferenceModel,
  StateTensorSpec,
  TensorView,
} from "./types.ts";

/** Every architecture, by model_type. */
export const ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  mamba: MAMBA as unknown as Architecture,
  jamba: JAMBA as unknown as Architecture,
  mamba2: MAMBA2 as unknown as Architecture,
};

/** Model types the kit knows of but does not build yet. */
const PLANNED = new Set(["falcon_mamba", "zamba", "zamba2", "bamba"]);

/**
 * The architecture of a `model_type`, or an error naming `file` (the config it came from).
 *
 * @example
 * ```ts
 * archOf("jamba").label; // "Jamba"
 * ```
 */
export function archOf(modelType: unknown, file = "config.json"): Architecture {
  const arch = typeof modelType === "string" && Object.hasOwn(ARCHITECTURES, modelType)
    ? ARCHITECTURES[modelType]
    : undefined;
  if (arch) return arch;
  const known = Object.keys(ARCHITECTURES).map((t) => `'${t}'`).join(", ");
  const why = PLANNED.has(String(modelType))
    ? `is not supported yet (supported: ${known})`
    : `is unknown (expected one of ${known})`;
  throw new KitError(`${file}: model_type '${modelType}' ${why}`);
}

/** The architecture a resolved config belongs to. */
export function archOfConfig(config: ModelConfig): Architecture {
  return archOf(config.model_type);
}

/**
 * Validates a parsed `config.json` of any registered architecture (`file` names it in errors).
 *
 * @example
 * ```ts
 * const cfg = parseModelConfig({ model_type: "mamba", hidden_size: 64 }, "config.json");
 * ```
 */
export function parseModelConfig(raw: unknown, file: string): ModelConfig {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new KitError(`${file}: expected a JSON object`);
  }
  const c = raw as Record<string, unknown>;
  return archOf(c.model_type, file).parseConfig(c, file);
}

/** Reads and validates `<dir>/config.json` of any registered architecture. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const file = `${dir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    throw new KitError(`${file}: file not found (is '${dir}' a Hugging Face checkpoint folder?)`);
  }
  let raw: unknown;
  try {
    raw = parsePythonJson(text);
  } catch (e) {
    throw new KitError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  return parseModelConfig(raw, file);
}

/**
 * JSON as Python's `json` writes it: bare `Infinity`, `-Infinity` and `NaN` (transformers saves
 * Mamba-2's default `time_step_limit` as `[0.0, Infinity]`) become the strings "Infinity",
 * "-Infinity", "NaN" (outside strings only); anything else invalid stays an error.
 *
 * @example
 * ```ts
 * parsePythonJson('{"time_step_limit": [0.0, Infinity]}'); // { time_step_limit: [0, "Infinity"] }
 * ```
 */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const quoted = text.replace(
      /("(?:[^"\\]|\\.)*")|(-?Infinity|NaN)\b/g,
      (m, str: string | undefined) => (str !== undefined ? m : `"${m}"`),
    );
    if (quoted === text) throw e;
    return JSON.parse(quoted);
  }
}
