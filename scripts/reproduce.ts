/**
 * The paper's tables end to end: statistics and figures, every method, every task and both
 * perplexities, latency, tables — resumable, and shardable over a cluster's job array.
 *
 *   deno task reproduce                         (the embedded model and the shipped samples)
 *   deno task reproduce --model DIR --data DIR --methods fp16,w8a8,quamba --shard 0/8 --out DIR
 */
import { join } from "node:path";
import { checkCacheDir } from "../lib/cache.ts";
import { intOption, listOption, parseCli, runCli, threadsOption } from "../lib/cli.ts";
import { openCheckpoint } from "../lib/checkpoint.ts";
import { KitError } from "../lib/errors.ts";
import { prefixTokenId } from "../lib/eval/requests.ts";
import { getTask, TASKS } from "../lib/eval/tasks/index.ts";
import { exists, writeFileAtomic } from "../lib/fsutil.ts";
import { loadModel } from "../lib/model.ts";
import { prepareOutputDir } from "../lib/output.ts";
import { DATA_DIR, DEFAULT_CALIBRATION, EMBEDDED_MODEL, userPath } from "../lib/paths.ts";
import { formatSeconds } from "../lib/progress.ts";
import { METHOD_NAMES, methodsFor, methodSpec } from "../lib/quant/methods.ts";
import { readModelConfig } from "../lib/arch/registry.ts";
import { cellFile, type ReproduceConfig, runCell } from "../lib/reproduce/cells.ts";
import { environment } from "../lib/reproduce/environment.ts";
import { gridCells, modelName, parseShard, shardCells } from "../lib/reproduce/grid.ts";
import { writeReport } from "../lib/reproduce/report.ts";
import { readCell } from "../lib/reproduce/tables.ts";
import { QUALITY_DEFAULTS, qualityGrid } from "../lib/reproduce/quality_cells.ts";
import { parseEp } from "../lib/runtime.ts";
import { loadTokenizer } from "../lib/tokenizer.ts";

const USAGE = `Reproduce the paper's accuracy and latency tables.

usage: deno task reproduce [options]

  --model DIR        checkpoint folder; repeat for several (default: the embedded model)
  --methods LIST     comma-separated (default: all built for the models' architectures:
                     ${METHOD_NAMES.join(",")} minus those not built for one)
  --tasks LIST       comma-separated (default: all: ${TASKS.map((t) => t.name).join(",")})
  --data DIR         full task files, in the layout of ../shared/data (default: the shipped samples)
  --limit N          first N documents of each task (default: 100 on the shipped samples, else all)
  --calib FILE       calibration text (default: the shipped WikiText-2 validation sample)
  --samples N        calibration samples (default 512, or all the text holds)
  --ep NAME          cpu (default), webgpu, cuda
  --prompt N --gen N latency: prompt and generated tokens (default 128 and 32)
  --repeats N        latency repeats after 2 warm-ups (default 3)
  --out DIR          default: reports/<date>-<model>; a new or empty folder, or an earlier
                     reproduce run's (resumed; its settings must match)
  --force            write into --out even if it holds files the kit did not write
  --shard i/n        run the i-th of n slices of the grid (0 <= i < n); then deno task report --out DIR
  --heldout FILE     held-out text for the KL table (default: data/heldout/time_machine.txt)
  --quality-tokens N       tokens per method for the KL table (default 8192; 0: none)
  --sensitivity-tokens N   tokens per per-tensor sensitivity variant (default 1024; 0: none)

Killed at any point, it starts again where it stopped: a finished cell is never redone.`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    model: { type: "string", multiple: true },
    methods: { type: "string" },
    tasks: { type: "string" },
    data: { type: "string" },
    limit: { type: "string" },
    calib: { type: "string" },
    samples: { type: "string" },
    ep: { type: "string" },
    prompt: { type: "string" },
    gen: { type: "string" },
    repeats: { type: "string" },
    out: { type: "string" },
    shard: { type: "string" },
    threads: { type: "string" },
    force: { type: "boolean" },
    heldout: { type: "string" },
    "quality-tokens": { type: "string" },
    "sensitivity-tokens": { type: "string" },
  }, USAGE);
  const models = o.model?.length ? o.model.map(userPath) : [EMBEDDED_MODEL];
  if (new Set(models.map(modelName)).size !== models.length) {
    throw new KitError(`--model: two models share a folder name (${models.join(", ")})`);
  }
  // default: every method built for all the models' architectures (Mamba: fp32 … dynamic;
  // Jamba: fp32, fp16, w8a8, quamba, quamba-mamba-only, quamba-clip, quamba-hadamard)
  const types = await Promise.all(models.map(async (m) => (await readModelConfig(m)).model_type));
  const common = METHOD_NAMES.filter((m) => types.every((t) => methodsFor(t).includes(m)));
  const methods = listOption(o.methods, "methods", METHOD_NAMES) ?? common;
  for (const t of types) for (const x of methods) methodSpecFor(x, t);
  const tasks = listOption(o.tasks, "tasks", TASKS.map((t) => t.name)) ??
    TASKS.map((t) => t.name);
  const date = new Date().toISOString().slice(0, 10);
  const cfg: ReproduceConfig = {
    out: userPath(o.out ?? join("reports", `${date}-${models.map(modelName).join("+")}`)),
    models,
    methods,
    tasks,
    dataDir: o.data ? userPath(o.data) : join(DATA_DIR, "tasks"),
    limit: o.limit === undefined
      ? (o.data ? undefined : 100)
      : intOption(o.limit, "limit", 0, { min: 1 }),
    calib: o.calib ? userPath(o.calib) : DEFAULT_CALIBRATION,
    samples: intOption(o.samples, "samples", 512, { min: 1 }),
    maxLen: 512,
    percentile: 99.999,
    ep: parseEp(o.ep ?? "cpu"),
    threads: threadsOption(o.threads),
    latency: {
      prompt: intOption(o.prompt, "prompt", 128, { min: 1 }),
      gen: intOption(o.gen, "gen", 32, { min: 1 }),
      warmup: 2,
      repeats: intOption(o.repeats, "repeats", 3, { min: 1 }),
    },
    quality: {
      ...QUALITY_DEFAULTS,
      text: o.heldout ? userPath(o.heldout) : QUALITY_DEFAULTS.text,
      tokens: intOption(o["quality-tokens"], "quality-tokens", QUALITY_DEFAULTS.tokens),
      sensitivityTokens: intOption(
        o["sensitivity-tokens"],
        "sensitivity-tokens",
        QUALITY_DEFAULTS.sensitivityTokens,
      ),
    },
  };
  const shard = parseShard(o.shard);
  await preflight(cfg, !!o.force);
  const cells = shardCells(gridCells(models, methods, tasks, qualityGrid(cfg)), shard);
  const todo = [];
  for (const c of cells) if (!(await cellDone(cellFile(cfg.out, c)))) todo.push(c);
  console.error(
    `reproduce: ${cfg.out}; ${cells.length} cells${
      shard.count > 1 ? ` in shard ${shard.index}/${shard.count}` : ""
    }, ` +
      `${cells.length - todo.length} already done`,
  );
  const t0 = performance.now();
  for (const [k, cell] of todo.entries()) {
    const elapsed = (performance.now() - t0) / 1000;
    const eta = k ? formatSeconds(elapsed / k * (todo.length - k)) : "?";
    console.error(
      `[${k + 1}/${todo.length}] ${cell.id} (elapsed ${formatSeconds(elapsed)}, ETA ${eta})`,
    );
    await runCell(cfg, cell);
  }
  if (shard.count > 1) {
    console.error(
      `shard ${shard.index}/${shard.count} done; when every shard is, run: deno task report --out ${cfg.out}`,
    );
    return;
  }
  await writeReport(cfg.out);
});

/** Checks that an int8 method is built for a model type (fp32 and fp16 always are). */
function methodSpecFor(method: string, modelType: string): void {
  if (method !== "fp32" && method !== "fp16") methodSpec(method, modelType);
}

/** Whether a cell's result exists and is whole (a damaged one is redone, with a note). */
async function cellDone(file: string): Promise<boolean> {
  if (!(await exists(file))) return false;
  try {
    await readCell(file);
    return true;
  } catch (e) {
    console.error(`note: ${(e as Error).message.split(";")[0]}; redoing that cell`);
    return false;
  }
}

/**
 * Checks what can be checked before long work: the output folder, the cache, models, task files,
 * calibration text, the EP.
 */
async function preflight(cfg: ReproduceConfig, force: boolean): Promise<void> {
  await prepareOutputDir(cfg.out, "reproduce", {
    force,
    inputs: [...cfg.models, cfg.dataDir, cfg.calib],
    recognise: (dir) => exists(join(dir, "config.json")),
  });
  await checkCacheDir();
  const file = join(cfg.out, "config.json");
  const settings = JSON.stringify({ ...cfg, out: undefined }, null, 1);
  if (await exists(file)) {
    const prev = JSON.stringify(
      { ...JSON.parse(await Deno.readTextFile(file)), out: undefined },
      null,
      1,
    );
    if (prev !== settings) {
      throw new KitError(
        `${file}: this folder holds a run with other settings; resume it with the same options or use another --out`,
      );
    }
  }
  if (!(await exists(cfg.calib)) && !(await exists(`${cfg.calib}.gz`))) {
    throw new KitError(`${cfg.calib}: calibration file not found`);
  }
  if (cfg.quality && !(await exists(cfg.quality.text))) {
    throw new KitError(`--heldout ${cfg.quality.text}: held-out text not found`);
  }
  for (const model of cfg.models) {
    await openCheckpoint(model);
    const tokenizer = await loadTokenizer(model);
    for (const name of cfg.tasks) {
      await getTask(name).load(cfg.dataDir, {
        tokenizer,
        prefixId: prefixTokenId(tokenizer),
        maxLength: 2048,
      });
    }
  }
  if (cfg.ep !== "cpu") await (await loadModel(cfg.models[0], { ep: cfg.ep })).close();
  await writeFileAtomic(file, JSON.stringify(cfg, null, 1) + "\n");
  if (!(await exists(join(cfg.out, "environment.json")))) {
    await writeFileAtomic(
      join(cfg.out, "environment.json"),
      JSON.stringify(environment(cfg.ep), null, 1) + "\n",
    );
  }
}
