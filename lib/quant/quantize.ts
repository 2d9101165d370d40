/**
 * `quantize`: calibrate, transform, and build a method's int8 graphs into a folder that loads
 * back without recalibrating (and that any onnxruntime can run).
 *
 * Folder: prefill.onnx, decode.onnx, weights.bin (shared external data), manifest.json (method,
 * percentile, calibration, source model, kit version, config), scales.json and scales.arrow
 * (every activation and weight scale), config.json and the tokenizer files.
 */
import { tableFromArrays, tableToIPC } from "apache-arrow";
import { basename, join, resolve } from "node:path";
import { cacheRoot, sha256, weightsFingerprint } from "../cache.ts";
import {
  calibrationFromTexts,
  calibrationKey,
  type CalibrationSet,
  loadCalibration,
} from "../calibration.ts";
import { type Checkpoint, openCheckpoint } from "../checkpoint.ts";
import { KitError } from "../errors.ts";
import { exists } from "../fsutil.ts";
import { prepareOutputDir } from "../output.ts";
import { checkVocab, loadQuantized, type Model, modelFromCheckpoint } from "../model.ts";
import { folderJson, isQuantizedFolder } from "./folder.ts";
import { writeModelFolder } from "../onnx/save.ts";
import { DEFAULT_CALIBRATION } from "../paths.ts";
import type { Ep } from "../runtime.ts";
import { collectStats } from "../stats/collect.ts";
import type { StatsView } from "../stats/view.ts";
import { loadTokenizer } from "../tokenizer.ts";
import { KIT_VERSION } from "../version.ts";
import { methodSpec } from "./methods.ts";
import { planScales, type QuantPlan } from "./plan.ts";
import { qdqHooks, WeightScales } from "./qdq.ts";
import { transformWeights } from "./transform.ts";
import type { Graph } from "../onnx/builder.ts";
import type { ModelConfig } from "../arch/registry.ts";
import type { Mamba2Config } from "../arch/mamba2/config.ts";
import { buildMamba2Method } from "./quamba2/build.ts";
import { checkRecipeChanges, type Mamba2Recipe, mamba2Recipe } from "./quamba2/recipes.ts";
import type { LayerScales } from "./plan.ts";
import { kitTempDir } from "../temp.ts";

export interface QuantizeOptions {
  /** `quamba`, `w8a8`, `quamba-clip`, `quamba-hadamard`, `smoothquant`, `quarot`, `dynamic`;
   * for Mamba-2 `quamba2-w8a8`, `quamba2-w4a8`, `quamba2-w4a16`, `w8a8`, `w4a16-rtn`
   * (or `fp32` / `fp16`, which just load the model). */
  method: string;
  /**
   * Calibration text: a file (`.txt` paragraphs packed into samples, or `.jsonl` `{"text": ...}`
   * documents), an array of texts (one sample each), or samples already tokenized; default: the
   * shipped WikiText-2 sample.
   */
  calibration?: string | string[] | CalibrationSet;
  /** Calibration samples and tokens per sample (defaults 512 and 512, as in the paper). */
  samples?: number;
  maxLen?: number;
  /** Percentile of |u| for the SSM input's scale (methods with clipping); default Quamba's for
   * the architecture: 99.999 for Mamba, 99.9 for Jamba. */
  percentile?: number;
  /**
   * Where to save the quantized model; default a folder in the kit's cache. A folder that exists
   * must be empty or an earlier quantized model of the kit (holding nothing else), unless
   * `force`; it may never be, or hold, the checkpoint or the calibration file.
   */
  out?: string;
  /** Replace `out` even if it holds files the kit did not write. */
  force?: boolean;
  ep?: Ep;
  threads?: number;
  /** Show progress on stderr; default true. */
  progress?: boolean;
  cacheDir?: string;
  /** Statistics of the original model already collected on the same calibration (reused). */
  stats?: StatsView;
  /**
   * Mamba-2 methods: parts of the recipe changed, for ablations (lib/quant/quamba2/recipes.ts),
   * e.g. `{ rotate: false }` or `{ groups: false, stateInt8: false }`; recorded in the manifest.
   */
  recipe?: Partial<Mamba2Recipe>;
}

export type { QuantizedModel } from "../model.ts";

/**
 * Quantizes a Mamba, Mamba-2 or Jamba checkpoint with a method and returns it as a `Model` (the
 * same interface as `loadModel`'s). The result is saved as a folder (`options.out`, or the cache).
 *
 * @example
 * ```ts
 * import { loadModel, quantize } from "./mod.ts";
 * const fp = await loadModel("data/models/embedded");
 * const q = await quantize(fp, { method: "quamba", samples: 64 });
 * console.log(q.tokenizer.decode(await q.generate(q.tokenizer.encode("The"), { maxNewTokens: 8 })));
 * ```
 */
export async function quantize(model: Model | string, options: QuantizeOptions): Promise<Model> {
  if (typeof options !== "object" || options === null) {
    throw new KitError("quantize: options must be an object such as { method: 'quamba' }");
  }
  const dir = typeof model === "string" ? model : model?.source;
  if (typeof dir !== "string") {
    throw new KitError("quantize: the model must be a checkpoint folder or a loaded Model");
  }
  if (options.method === "fp32" || options.method === "fp16") {
    return await modelFromCheckpoint(await openCheckpoint(dir), {
      ep: options.ep,
      dtype: options.method,
      cacheDir: options.cacheDir,
    });
  }
  methodSpec(options.method); // an unknown method fails before any work
  if (options.percentile !== undefined) checkPercentile(options.percentile);
  const ckpt = await openCheckpoint(dir);
  methodSpec(options.method, ckpt.config.model_type);
  if (options.recipe !== undefined) {
    if (ckpt.config.model_type !== "mamba2") {
      throw new KitError(
        `recipe: changes to a recipe are for Mamba-2's methods (this model is model_type '${ckpt.config.model_type}')`,
      );
    }
    checkRecipeChanges(options.recipe);
  }
  // Quamba's percentile for the architecture (99.999 for Mamba, 99.9 for Jamba) unless given
  const percentile = options.percentile ?? ckpt.arch.quambaPercentile;
  const tokenizer = checkVocab(await loadTokenizer(ckpt.dir), ckpt.config, ckpt.dir);
  const calibOptions = { samples: options.samples, maxLen: options.maxLen };
  const c = options.calibration;
  const calib = c === undefined || typeof c === "string"
    ? await loadCalibration(c ?? DEFAULT_CALIBRATION, tokenizer, calibOptions)
    : Array.isArray(c)
    ? calibrationFromTexts(c, tokenizer, calibOptions)
    : checkCalibrationSet(c);
  if (options.progress !== false) {
    for (const w of calib.warnings ?? []) {
      console.warn(`note: ${w}`);
    }
  }
  let out: string;
  if (options.out !== undefined) {
    out = await checkQuantizedOut(options.out, {
      force: options.force,
      inputs: [ckpt.dir, ...(typeof c === "string" ? [c] : [])],
    });
  } else {
    const key = (await sha256(JSON.stringify([
      KIT_VERSION,
      resolve(ckpt.dir),
      await weightsFingerprint(ckpt),
      options.method,
      percentile,
      await calibrationKey(calib),
      ...(options.recipe ? [options.recipe] : []),
    ]))).slice(0, 16);
    out = join(
      options.cacheDir ?? cacheRoot(),
      `${basename(resolve(ckpt.dir))}-${options.method}-${key}`,
    );
    if (await exists(join(out, "manifest.json"))) {
      return await loadQuantized(out, { ep: options.ep, threads: options.threads });
    }
  }
  await buildQuantized(ckpt, calib, out, { ...options, percentile });
  return await loadQuantized(out, { ep: options.ep, threads: options.threads });
}

/**
 * Checks that a quantized model may be saved to `out` (before any work): a new or empty folder,
 * or an earlier quantized folder of the kit holding only its own files, unless `force`; never an
 * input. Returns the absolute path.
 *
 * @example
 * ```ts
 * await checkQuantizedOut("out/emb-quamba", { inputs: ["data/models/embedded"], label: "--out" });
 * ```
 */
export async function checkQuantizedOut(
  out: string,
  options: { force?: boolean; inputs?: string[]; label?: string } = {},
): Promise<string> {
  return await prepareOutputDir(out, "quantize", {
    label: options.label ?? "out",
    force: options.force,
    inputs: options.inputs,
    recognise: isQuantizedFolder,
    ownFiles: ownFilesOf,
  });
}

/** Quamba's percentile of |u|: in [90, 100]; lower ones clip more than a tenth of u. */
export function checkPercentile(p: unknown): void {
  if (typeof p !== "number" || !(p >= 90 && p <= 100)) {
    throw new KitError(
      `percentile must be a number in [90, 100] (Quamba uses 99.999 for Mamba, 99.9 for Jamba; ` +
        `below 90 more than a ` +
        `tenth of |u| would be clipped), got ${p}`,
    );
  }
}

function checkCalibrationSet(c: unknown): CalibrationSet {
  const set = c as CalibrationSet;
  if (
    typeof c !== "object" || c === null || typeof set.source !== "string" ||
    !Array.isArray(set.samples) || set.samples.length === 0 ||
    !set.samples.every((s) => Array.isArray(s) && s.every(Number.isInteger))
  ) {
    throw new KitError(
      "calibration: expected a file path, an array of texts, or { source, samples: number[][] } " +
        `(got ${
          c === null ? "null" : typeof c === "object" ? "an object of another shape" : typeof c
        })`,
    );
  }
  return set;
}

/** The files a quantized folder's manifest says the kit wrote there. */
async function ownFilesOf(dir: string): Promise<string[] | undefined> {
  try {
    const m = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
    return Array.isArray(m.files) ? m.files : [...QUANTIZED_FILES];
  } catch {
    return undefined;
  }
}

/** The files of a quantized folder (kit 0.1.0's manifests did not list them). */
const QUANTIZED_FILES = [
  "prefill.onnx",
  "decode.onnx",
  "weights.bin",
  "manifest.json",
  "scales.json",
  "scales.arrow",
  "config.json",
  "tokenizer.json",
  "tokenizer_config.json",
] as const;

/** Calibrates, transforms and writes a method's folder. */
async function buildQuantized(
  ckpt: Checkpoint,
  calib: CalibrationSet,
  out: string,
  options: QuantizeOptions & { percentile: number },
): Promise<void> {
  const spec = methodSpec(options.method, ckpt.config.model_type);
  if (ckpt.config.model_type === "mamba2") {
    return await buildMamba2Folder(ckpt, calib, out, options);
  }
  const collect = {
    ep: options.ep,
    threads: options.threads,
    progress: options.progress,
    cacheDir: options.cacheDir,
  };
  const emaPercentiles = [...new Set([99.999, options.percentile])];
  const stats0 = options.stats ?? await collectStats(ckpt, calib, { ...collect, emaPercentiles });
  const t = await transformWeights(ckpt.config, ckpt.src, spec, stats0);
  let stats = stats0;
  if (spec.rotateResidual) {
    // the rotated model's activations differ at the in_proj input: observe it
    const graphDir = await kitTempDir("observe");
    try {
      stats = await collectStats(
        {
          config: t.config,
          src: t.src,
          graphDir: join(graphDir, "g"),
          name: `${ckpt.dir} (${options.method})`,
        },
        calib,
        { ...collect, emaPercentiles },
      );
    } finally {
      await Deno.remove(graphDir, { recursive: true });
    }
  }
  const plan = planScales(stats, spec, options.method, {
    percentile: options.percentile,
    smoothing: t.smoothing,
    layers: t.config.num_hidden_layers,
  });
  const scales = new WeightScales(t.src);
  const hooks = qdqHooks(t.config, t.src, plan, { smoothing: t.smoothing, weightScales: scales });
  const opt = { weights: "float32", compute: "float32" } as const;
  const prefill = ckpt.arch.buildPrefill(t.config, t.src, opt, hooks);
  const decode = ckpt.arch.buildDecode(t.config, t.src, opt, hooks);
  const weightNames = [...prefill.initializers.keys()].filter((n) => n.endsWith(".int8")).map((n) =>
    n.slice(0, -5)
  );
  const weightScales: Record<string, number> = {};
  for (const n of weightNames) weightScales[n] = await scales.get(n);
  await writeQuantized(out, {
    ckpt,
    calib,
    method: options.method,
    description: spec.description,
    percentile: spec.clipU ? options.percentile : null,
    config: t.config,
    prefill,
    decode,
    plan,
    weightScales,
  });
}

/** A Mamba-2 recipe's folder (lib/quant/quamba2); GPTQ calibrates on 128 × 1024 tokens. */
async function buildMamba2Folder(
  ckpt: Checkpoint,
  calib: CalibrationSet,
  out: string,
  options: QuantizeOptions & { percentile: number },
): Promise<void> {
  const recipe = { ...mamba2Recipe(options.method), ...options.recipe };
  const c = options.calibration;
  const gptqCalib = recipe.gptq && (c === undefined || typeof c === "string")
    ? await loadCalibration(c ?? DEFAULT_CALIBRATION, await loadTokenizer(ckpt.dir), {
      samples: options.samples ?? 128,
      maxLen: options.maxLen ?? 1024,
    })
    : calib;
  const built = await buildMamba2Method(
    ckpt.config as Mamba2Config,
    ckpt.src,
    options.method,
    calib,
    {
      gptqCalib,
      recipe: options.recipe,
      ep: options.ep,
      threads: options.threads,
      progress: options.progress,
    },
  );
  const layers: LayerScales[] = (built.scales?.layers ?? []).map((l) => {
    const scale: Record<string, number> = {
      "in_proj.input": l.inProjInput,
      z: l.z,
      dt: l.dt,
      y: l.y,
    };
    return { amax: Object.fromEntries(Object.entries(scale).map(([k, v]) => [k, v * 127])), scale };
  });
  await writeQuantized(out, {
    ckpt,
    calib,
    method: options.method,
    description: recipe.description,
    percentile: null,
    config: built.config,
    prefill: built.prefill,
    decode: built.decode,
    plan: { method: options.method, percentile: 0, spec: methodSpec(options.method), layers },
    weightScales: {},
    extraScales: built.scales && {
      lm_head_input: built.scales.lmHeadInput,
      layers: built.scales.layers.map((l) => ({
        xBC: Array.from(l.xBC),
        u: Array.from(l.u),
        B: Array.from(l.B),
        C: Array.from(l.C),
        state: l.state ? Array.from(l.state) : null,
        x_group_of_channel: l.groupOf ? Array.from(l.groupOf) : null,
      })),
    },
    extraManifest: {
      recipe,
      ablation: options.recipe ?? null,
      gptq_calibration: recipe.gptq ? describeCalib(gptqCalib) : null,
    },
  });
}

function describeCalib(calib: CalibrationSet) {
  return {
    source: calib.source,
    samples: calib.samples.length,
    max_len: Math.max(...calib.samples.map((s) => s.length)),
    tokens: calib.samples.reduce((a, s) => a + s.length, 0),
  };
}

/** Writes a quantized folder: graphs, weights, manifest, scales, config and tokenizer. */
async function writeQuantized(out: string, q: {
  ckpt: Checkpoint;
  calib: CalibrationSet;
  method: string;
  description: string;
  percentile: number | null;
  config: ModelConfig;
  prefill: Graph;
  decode: Graph;
  plan: QuantPlan;
  weightScales: Record<string, number>;
  extraScales?: Record<string, unknown>;
  extraManifest?: Record<string, unknown>;
}): Promise<void> {
  const { ckpt, calib, plan, weightScales, prefill, decode } = q;
  const manifest = {
    format: "quamba-kit quantized model",
    kit_version: KIT_VERSION,
    method: q.method,
    description: q.description,
    percentile: q.percentile,
    calibration: describeCalib(calib),
    ...q.extraManifest,
    source_model: resolve(ckpt.dir),
    source_weights: await weightsFingerprint(ckpt),
    created: new Date().toISOString(),
    config: q.config,
  };
  const scalesArrow = scalesTable(plan, weightScales);
  scalesArrow.schema.metadata.set("method", q.method);
  scalesArrow.schema.metadata.set("kit_version", KIT_VERSION);
  const files: Record<string, string | Uint8Array> = {
    "scales.json": JSON.stringify(
      {
        activations: plan.layers,
        weights: weightScales,
        ...(q.extraScales && { mamba2: q.extraScales }),
      },
      null,
      2,
    ),
    "scales.arrow": tableToIPC(scalesArrow, "file"),
    "config.json": folderJson({ ...q.config, quantization: q.method }),
  };
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    if (await exists(join(ckpt.dir, f))) files[f] = await Deno.readTextFile(join(ckpt.dir, f));
  }
  const names = [
    "prefill.onnx",
    "decode.onnx",
    "weights.bin",
    "manifest.json",
    ...Object.keys(files),
  ];
  files["manifest.json"] = folderJson({ ...manifest, files: names.sort() });
  await writeModelFolder(out, { "prefill.onnx": prefill, "decode.onnx": decode }, {
    metadata: { method: q.method, kit_version: KIT_VERSION },
    files,
  });
}

function scalesTable(plan: QuantPlan, weights: Record<string, number>) {
  const rows = {
    layer: [] as number[],
    kind: [] as string[],
    name: [] as string[],
    amax: [] as number[],
    scale: [] as number[],
  };
  plan.layers.forEach((l, i) => {
    for (const [p, amax] of Object.entries(l.amax)) {
      rows.layer.push(i);
      rows.kind.push("activation");
      rows.name.push(p);
      rows.amax.push(amax);
      rows.scale.push(l.scale[p]);
    }
  });
  for (const [name, s] of Object.entries(weights)) {
    rows.layer.push(Number(/layers\.(\d+)\./.exec(name)?.[1] ?? -1));
    rows.kind.push("weight");
    rows.name.push(name);
    rows.amax.push(s * 127);
    rows.scale.push(s);
  }
  return tableFromArrays({
    layer: Int32Array.from(rows.layer),
    kind: rows.kind,
    name: rows.name,
    amax: Float64Array.from(rows.amax),
    scale: Float64Array.from(rows.scale),
  });
}

export { isQuantizedFolder, loadQuantized };
