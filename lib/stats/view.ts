/**
 * What quantization needs from activation statistics (absmax, per-channel absmax, the EMA of
 * per-sample percentiles), whether they were just collected or read back from Arrow tables.
 */
import type { Table } from "../arrow.ts";
import { KitError } from "../errors.ts";
import type { StatTensor } from "./schema.ts";

/** The statistics of one (layer, tensor) a recipe uses. */
export interface TensorSummary {
  readonly absmax: number;
  readonly channelAbsmax: Float32Array;
  /** Percentiles (0-100) tracked per sample with an EMA, and their values. */
  readonly emaPercentiles: number[];
  readonly ema: number[];
}

/** Statistics by (layer, tensor). `ActivationStats` is one; `statsFromTables` makes another. */
export interface StatsView {
  get(layer: number, tensor: StatTensor): TensorSummary | undefined;
}

/**
 * A view of statistics read back from the `scalars` and `channels` tables (lib/stats/schema.ts),
 * so that a saved statistics folder can calibrate any number of methods.
 *
 * @example
 * ```ts
 * const { scalars, channels } = await readStats("out/stats");
 * const view = statsFromTables(scalars, channels);
 * view.get(0, "u")!.absmax;
 * ```
 */
export function statsFromTables(scalars: Table, channels: Table): StatsView {
  const map = new Map<string, { absmax: number; ch: number[]; p: number[]; ema: number[] }>();
  const entry = (layer: number, tensor: string) => {
    const k = `${layer}/${tensor}`;
    let e = map.get(k);
    if (!e) map.set(k, e = { absmax: NaN, ch: [], p: [], ema: [] });
    return e;
  };
  for (const r of scalars.toArray()) {
    const e = entry(Number(r.layer), String(r.tensor));
    const stat = String(r.statistic);
    if (stat === "absmax") e.absmax = r.value;
    else if (stat.startsWith("ema_p")) {
      e.p.push(Number(stat.slice(5)));
      e.ema.push(r.value);
    }
  }
  for (const r of channels.toArray()) {
    entry(Number(r.layer), String(r.tensor)).ch[Number(r.channel)] = r.absmax;
  }
  const out = new Map<string, TensorSummary>();
  for (const [k, e] of map) {
    if (Number.isNaN(e.absmax)) throw new KitError(`statistics tables: no absmax for ${k}`);
    out.set(k, {
      absmax: e.absmax,
      channelAbsmax: Float32Array.from(e.ch),
      emaPercentiles: e.p,
      ema: e.ema,
    });
  }
  return { get: (layer, tensor) => out.get(`${layer}/${tensor}`) };
}
