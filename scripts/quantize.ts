/**
 * Quantizes a Mamba checkpoint with one of the kit's methods and saves it as a folder that
 * `loadModel`, `deno task generate --model` and `deno task eval --model` open directly.
 *
 *   deno task quantize --model DIR --method quamba [--calib FILE] [--samples N] --out DIR
 */
import { checkCacheDir } from "../lib/cache.ts";
import { intOption, numberOption, parseCli, runCli } from "../lib/cli.ts";
import { checkRecipeChanges } from "../lib/quant/quamba2/recipes.ts";
import { KitError } from "../lib/errors.ts";
import { DEFAULT_CALIBRATION, EMBEDDED_MODEL, userPath } from "../lib/paths.ts";
import { METHODS } from "../lib/quant/methods.ts";
import { checkQuantizedOut, quantize, type QuantizedModel } from "../lib/quant/quantize.ts";
import { parseEp } from "../lib/runtime.ts";

const USAGE = `Quantize a Mamba checkpoint to int8 (W8A8, static per-tensor scales).

usage: deno task quantize [--model DIR] --method NAME --out DIR [options]

  --model DIR        checkpoint folder (default: the embedded model)
  --method NAME      ${
  Object.entries(METHODS).map(([k, v]) => `${k}: ${v.description}`).join("\n                     ")
}
  --calib FILE       calibration text (.txt or {"text": ...} .jsonl); default: ${DEFAULT_CALIBRATION}
  --samples N        calibration samples (default 512, as in the paper; Mamba-2's GPTQ methods
                     also take 128 samples of 1024 tokens for the Hessians unless these are given)
  --max-len L        tokens per calibration sample (default 512)
  --percentile P     percentile of |u| for the SSM input's scale, in [90, 100] (default: Quamba's,
                     99.999 for Mamba, 99.9 for Jamba)
  --out DIR          where to save the quantized model (required): a new or empty folder, or
                     one an earlier quantize wrote (it is replaced); never the checkpoint
  --force            replace --out even if it holds files the kit did not write
  --ep NAME          cpu (default), webgpu, cuda (for calibration)
  --recipe LIST      Mamba-2 methods, for ablations: parts of the recipe changed, e.g.
                     rotate=false,groups=false (parts: wBits, aBits, gptq, rotate, groups,
                     stateInt8); recorded in the folder's manifest`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    model: { type: "string" },
    method: { type: "string" },
    calib: { type: "string" },
    samples: { type: "string" },
    "max-len": { type: "string" },
    percentile: { type: "string" },
    out: { type: "string" },
    force: { type: "boolean" },
    ep: { type: "string" },
    recipe: { type: "string" },
  }, USAGE);
  if (!o.method) throw new KitError(`--method is required (${Object.keys(METHODS).join(", ")})`);
  if (!METHODS[o.method]) {
    throw new KitError(`unknown method '${o.method}' (${Object.keys(METHODS).join(", ")})`);
  }
  if (!o.out) throw new KitError("--out DIR is required: where to save the quantized model");
  // undefined: Quamba's for the architecture (99.999 for Mamba, 99.9 for Jamba)
  const percentile = o.percentile === undefined ? undefined : numberOption(
    o.percentile,
    "percentile",
    99.999,
    {
      min: 90,
      max: 100,
      why: "Quamba uses 99.999 for Mamba, 99.9 for Jamba; below 90 more than a tenth of |u| " +
        "would be clipped",
    },
  );
  // undefined: the method's defaults (512 × 512; GPTQ's Hessians 128 × 1024)
  const samples = o.samples === undefined
    ? undefined
    : intOption(o.samples, "samples", 512, { min: 1 });
  const maxLen = o["max-len"] === undefined
    ? undefined
    : intOption(o["max-len"], "max-len", 512, { min: 2 });
  const recipe = o.recipe === undefined ? undefined : parseRecipe(o.recipe);
  const ep = parseEp(o.ep ?? "cpu");
  const modelDir = o.model ? userPath(o.model) : EMBEDDED_MODEL;
  const calib = o.calib ? userPath(o.calib) : undefined;
  await checkQuantizedOut(userPath(o.out), {
    force: o.force,
    inputs: [modelDir, ...(calib ? [calib] : [])],
    label: "--out",
  });
  await checkCacheDir();
  const t0 = performance.now();
  const model = await quantize(modelDir, {
    method: o.method,
    calibration: calib,
    samples,
    maxLen,
    percentile,
    out: userPath(o.out),
    force: o.force,
    ep,
    recipe,
  }) as QuantizedModel;
  const l0 = model.plan.layers[0] ?? { scale: {} };
  console.log(
    `${o.method}: saved to ${model.dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  if (Object.keys(l0.scale).length) {
    console.log(
      `layer 0 activation scales: ${
        Object.entries(l0.scale).map(([k, v]) => `${k} ${v.toPrecision(3)}`).join(", ")
      }`,
    );
  }
  console.log(`load it with loadModel("${model.dir}") or deno task generate --model ${model.dir}`);
  await model.close();
});

/** `--recipe rotate=false,wBits=4`: parts of a Mamba-2 recipe changed. */
function parseRecipe(text: string): Record<string, boolean | number> {
  const out: Record<string, boolean | number> = {};
  for (const part of text.split(",").map((x) => x.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9]+)=(true|false|\d+)$/.exec(part);
    if (!m) {
      throw new KitError(`--recipe: '${part}' is not PART=VALUE (e.g. rotate=false,groups=false)`);
    }
    if (Object.hasOwn(out, m[1])) throw new KitError(`--recipe: '${m[1]}' given twice`);
    out[m[1]] = m[2] === "true" ? true : m[2] === "false" ? false : Number(m[2]);
  }
  checkRecipeChanges(out);
  return out;
}
