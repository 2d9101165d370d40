/**
 * Collecting activation statistics of a model over calibration samples, and the Arrow tables
 * they are saved as (schema: lib/stats/schema.ts).
 */
import { tableFromArrays } from "apache-arrow";
import { basename, join } from "node:path";
import { type Table, tableMetadata, writeArrowFile } from "../arrow.ts";
import { readStatsTables, type StatsTables, TABLE_COLUMNS } from "./io.ts";
import type { CalibrationSet } from "../calibration.ts";
import type { Checkpoint } from "../checkpoint.ts";
import type { ModelConfig } from "../arch/registry.ts";
import type { WeightSource } from "../arch/mamba/graph.ts";
import { KitError } from "../errors.ts";
import { ActivationObserver } from "../observe.ts";
import { Progress } from "../progress.ts";
import type { Ep } from "../runtime.ts";
import { KIT_VERSION } from "../version.ts";
import { percentileName, PERCENTILES, type StatTensor } from "./schema.ts";
import { TensorStats } from "./tensor_stats.ts";

/** Weights to observe that are not a checkpoint folder (e.g. a method's transformed weights). */
export interface ObserveTarget {
  config: ModelConfig;
  src: WeightSource;
  /** Where to build the observation graph. */
  graphDir: string;
  /** How to name the model in the tables' metadata. */
  name: string;
}

export interface CollectOptions {
  ep?: Ep;
  /** Tokens per observation run (bounds memory); default 512. */
  chunk?: number;
  /** Percentiles tracked per sample with an EMA; default [99.999]. */
  emaPercentiles?: number[];
  /** Show a progress bar on stderr; default true. */
  progress?: boolean;
  cacheDir?: string;
  threads?: number;
}

/** Statistics of every (layer, tensor), with what they were computed from. */
export class ActivationStats {
  readonly stats: Map<string, { layer: number; tensor: StatTensor; s: TensorStats }> = new Map<
    string,
    { layer: number; tensor: StatTensor; s: TensorStats }
  >();
  constructor(readonly meta: Record<string, string>) {}

  get(layer: number, tensor: StatTensor): TensorStats | undefined {
    return this.stats.get(`${layer}/${tensor}`)?.s;
  }

  /** The three tables of lib/stats/schema.ts, with `meta` on each table's schema. */
  tables(): { scalars: Table; channels: Table; histograms: Table } {
    const sc = {
      layer: [] as number[],
      tensor: [] as string[],
      statistic: [] as string[],
      value: [] as number[],
    };
    const ch = {
      layer: [] as number[],
      tensor: [] as string[],
      channel: [] as number[],
      absmax: [] as number[],
    };
    const hi = {
      layer: [] as number[],
      tensor: [] as string[],
      lo: [] as number[],
      hi: [] as number[],
      count: [] as number[],
    };
    for (const { layer, tensor, s } of this.stats.values()) {
      const put = (statistic: string, value: number) => {
        sc.layer.push(layer);
        sc.tensor.push(tensor);
        sc.statistic.push(statistic);
        sc.value.push(value);
      };
      put("absmax", s.absmax);
      for (const p of PERCENTILES) put(percentileName(p), s.sketch.quantile(p / 100));
      s.emaPercentiles.forEach((p, k) => put(`ema_${percentileName(p)}`, s.ema[k]));
      put("mean", s.moments.mean);
      put("std", s.moments.std);
      put("kurtosis", s.moments.kurtosis);
      put("count", s.count);
      s.channelAbsmax.forEach((v, c) => {
        ch.layer.push(layer);
        ch.tensor.push(tensor);
        ch.channel.push(c);
        ch.absmax.push(v);
      });
      for (const b of s.sketch.histogram(4)) {
        hi.layer.push(layer);
        hi.tensor.push(tensor);
        hi.lo.push(b.lo);
        hi.hi.push(b.hi);
        hi.count.push(b.count);
      }
    }
    const i32 = (a: number[]) => Int32Array.from(a), f64 = (a: number[]) => Float64Array.from(a);
    const tables = {
      scalars: tableFromArrays({
        layer: i32(sc.layer),
        tensor: sc.tensor,
        statistic: sc.statistic,
        value: f64(sc.value),
      }),
      channels: tableFromArrays({
        layer: i32(ch.layer),
        tensor: ch.tensor,
        channel: i32(ch.channel),
        absmax: f64(ch.absmax),
      }),
      histograms: tableFromArrays({
        layer: i32(hi.layer),
        tensor: hi.tensor,
        lo: f64(hi.lo),
        hi: f64(hi.hi),
        count: f64(hi.count),
      }),
    };
    for (const t of Object.values(tables)) {
      for (const [k, v] of Object.entries(this.meta)) t.schema.metadata.set(k, v);
    }
    return tables;
  }
}

/**
 * Runs every calibration sample through the model's observation graph and accumulates the
 * statistics of every activation. Memory does not grow with the number of samples.
 *
 * @example
 * ```ts
 * const ckpt = await openCheckpoint("data/models/embedded");
 * const calib = await loadCalibration("data/calibration/wikitext2_valid_sample.txt", tokenizer);
 * const stats = await collectStats(ckpt, calib);
 * await writeStats("out/stats", stats);
 * ```
 */
export async function collectStats(
  target: Checkpoint | ObserveTarget,
  calib: CalibrationSet,
  options: CollectOptions = {},
): Promise<ActivationStats> {
  const obs = "store" in target
    ? await ActivationObserver.open(target, options)
    : await ActivationObserver.openFor(target.config, target.src, target.graphDir, {
      ...options,
      source: target.name,
    });
  const tokens = calib.samples.reduce((a, s) => a + s.length, 0);
  const result = new ActivationStats({
    // the folder's name, not its absolute path: tables and figures stay portable
    model: "store" in target ? basename(target.dir) : target.name,
    method: "store" in target ? "fp32" : "transformed fp32",
    samples: String(calib.samples.length),
    max_len: String(Math.max(...calib.samples.map((s) => s.length))),
    tokens: String(tokens),
    source: calib.source,
    kit_version: KIT_VERSION,
    created: new Date().toISOString(),
    percentile_ema_weight: "0.01",
  });
  const bar = options.progress === false
    ? undefined
    : new Progress("observing", calib.samples.length);
  try {
    for (const [k, ids] of calib.samples.entries()) {
      await obs.observe(ids, (layer, tensor, data, channels) => {
        const key = `${layer}/${tensor}`;
        let entry = result.stats.get(key);
        if (!entry) {
          entry = {
            layer,
            tensor,
            s: new TensorStats(channels, { emaPercentiles: options.emaPercentiles }),
          };
          result.stats.set(key, entry);
        }
        const bad = entry.s.add(data);
        if (bad >= 0) {
          throw new KitError(
            `non-finite activation (${data[bad]}) in layer ${layer}, tensor '${tensor}', ` +
              `calibration sample ${k} of ${calib.source} (token ${
                Math.floor(bad / channels)
              } of the chunk)`,
          );
        }
      }, { chunk: options.chunk });
      for (const e of result.stats.values()) e.s.endSample();
      bar?.tick(1, `${ids.length} tokens`);
    }
  } finally {
    await obs.close();
  }
  bar?.done(`${tokens} tokens`);
  return result;
}

/** Writes the three tables into `dir` (each file atomically; the folder is created). */
export async function writeStats(dir: string, stats: ActivationStats): Promise<void> {
  const t = stats.tables();
  for (const name of Object.keys(TABLE_COLUMNS) as (keyof typeof TABLE_COLUMNS)[]) {
    await writeArrowFile(join(dir, `${name}.arrow`), t[name], stats.meta);
  }
}

/** Reads the three tables back from `dir` (columns checked), with their metadata. */
export async function readStats(
  dir: string,
): Promise<StatsTables & { meta: Record<string, string> }> {
  const t = await readStatsTables(dir);
  return { ...t, meta: tableMetadata(t.scalars) };
}
