/**
 * Realistic synthetic activation statistics tables (the schema of lib/stats/schema.ts), for the
 * plot tests and the smoke notebook: activations are simulated per (layer, tensor) and the
 * statistics computed from them exactly. Like a real Mamba: `u` has rare extreme values (a few
 * per layer, far above p99.999), `y` has massive outlier channels, and `y_had` (y rotated by the
 * orthonormal Hadamard transform) is much flatter.
 */
import { join } from "node:path";
import { Float64, Int32, Table, Utf8, vectorFromArray } from "apache-arrow";
import { writeArrowFile } from "../../lib/arrow.ts";
import { hadamardRows } from "../../lib/hadamard.ts";
import {
  percentileName,
  PERCENTILES,
  TENSOR_NAMES,
  type TensorName,
} from "../../lib/stats/schema.ts";
import { rng } from "./tiny.ts";

export interface SyntheticStats {
  scalars: Table;
  channels: Table;
  histograms: Table;
}

export interface SyntheticOptions {
  layers?: number;
  /** hidden size d (d_inner e = 2d) */
  hidden?: number;
  /** calibration samples and tokens per sample */
  samples?: number;
  sampleLen?: number;
  seed?: number;
}

const EMA_WEIGHT = 0.01;

/** A deterministic standard normal generator (Box–Muller on mulberry32). */
function normal(seed: number): () => number {
  const r = rng(seed);
  return () => {
    const a = (r() + 1) / 2 || 1e-12, b = (r() + 1) / 2;
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b);
  };
}

/** Simulated activations [tokens, channels] of one tensor of one layer. */
function simulate(
  tensor: TensorName,
  at: {
    layer: number;
    tokens: number;
    sampleLen: number;
    dims: Record<string, number>;
    seed: number;
    /** y of the same layer, which y_had rotates */
    y?: Float32Array;
  },
): { data: Float32Array; channels: number } {
  const { layer, tokens, sampleLen, dims, seed, y } = at;
  const c = tensor === "in_proj.input"
    ? dims.d
    : tensor === "dt_low"
    ? dims.r
    : tensor === "B" || tensor === "C"
    ? dims.n
    : dims.e;
  if (tensor === "y_had") return { data: hadamardRows(y!, c), channels: c };
  const g = normal(seed * 1000 + layer * 31 + TENSOR_NAMES.indexOf(tensor));
  const depth = 1 + layer / 2;
  // per-channel scales: log-normal spread, plus a few outlier channels where Mamba has them
  const scale = new Float64Array(c);
  for (let j = 0; j < c; j++) scale[j] = Math.exp(0.35 * g());
  const outliers = tensor === "y" ? 5 : tensor === "in_proj.input" ? 2 : tensor === "y_ssm" ? 2 : 0;
  const boost = tensor === "y" ? 8 * depth : 6;
  for (let k = 0; k < outliers; k++) {
    scale[(k * 37 + layer * 11 + 5) % c] *= boost * (1 + 0.5 * k);
  }
  const base: Record<TensorName, number> = {
    "in_proj.input": 0.8,
    x: 1,
    z: 1.5,
    u: 0.6,
    dt_low: 2,
    B: 0.7,
    C: 0.7,
    dt: 1.2,
    y_ssm: 0.3,
    y: 0.08,
    y_had: 0,
  };
  const data = new Float32Array(tokens * c);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < c; j++) {
      // a scale mixture of normals: heavier tails than a normal (kurtosis > 3)
      let v = base[tensor] * scale[j] * g() * Math.exp(0.3 * g());
      if (tensor === "u") v = v / (1 + Math.exp(-v)) * 2; // SiLU-shaped: small negative tail
      if (tensor === "dt") v -= 2;
      if (tensor === "x" && (t * c + j) % 997 === 0) v = 0; // a few exact zeros
      data[t * c + j] = v;
    }
  }
  if (tensor === "u") {
    // a rare extreme value per layer, far above the bulk (and above p99.999), in the last sample
    for (let k = 0; k < 1; k++) {
      const t = tokens - 1 - ((layer * 79 + k * 31) % sampleLen), j = (layer * 13 + k * 29) % c;
      data[t * c + j] = (25 + 15 * layer) * (1 + 0.6 * k);
    }
  }
  return { data, channels: c };
}

/** numpy-style percentile (linear interpolation) of sorted values. */
function percentile(sorted: Float64Array | Float32Array, p: number): number {
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The statistics tables of simulated activations, with the schema's columns and metadata. */
export function syntheticStats(options: SyntheticOptions = {}): SyntheticStats {
  const { layers = 4, hidden = 64, samples = 4, sampleLen = 256, seed = 1 } = options;
  const dims = { d: hidden, e: 2 * hidden, r: Math.ceil(hidden / 16), n: 16 };
  const tokens = samples * sampleLen;
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
  for (let layer = 0; layer < layers; layer++) {
    let y: Float32Array | undefined;
    for (const tensor of TENSOR_NAMES) {
      const { data, channels } = simulate(tensor, { layer, tokens, sampleLen, dims, seed, y });
      if (tensor === "y") y = data;
      const scalar = (statistic: string, value: number) => {
        sc.layer.push(layer),
          sc.tensor.push(tensor),
          sc.statistic.push(statistic),
          sc.value.push(value);
      };
      const abs = data.map(Math.abs);
      const sorted = abs.slice().sort();
      let sum = 0, sum2 = 0;
      for (const v of data) sum += v;
      const mean = sum / data.length;
      let m4 = 0;
      for (const v of data) sum2 += (v - mean) ** 2, m4 += (v - mean) ** 4;
      const variance = sum2 / data.length;
      scalar("absmax", sorted[sorted.length - 1]);
      for (const p of PERCENTILES) scalar(percentileName(p), percentile(sorted, p));
      let ema = 0;
      for (let s = 0; s < samples; s++) {
        const part = abs.slice(s * sampleLen * channels, (s + 1) * sampleLen * channels).sort();
        const q = percentile(part, 99.999);
        ema = s === 0 ? q : (1 - EMA_WEIGHT) * ema + EMA_WEIGHT * q;
      }
      scalar("ema_p99.999", ema);
      scalar("mean", mean);
      scalar("std", Math.sqrt(variance));
      scalar("kurtosis", m4 / data.length / variance ** 2);
      scalar("count", data.length);
      const cmax = new Float64Array(channels);
      for (let i = 0; i < abs.length; i++) {
        cmax[i % channels] = Math.max(cmax[i % channels], abs[i]);
      }
      cmax.forEach((v, j) => {
        ch.layer.push(layer), ch.tensor.push(tensor), ch.channel.push(j), ch.absmax.push(v);
      });
      const bins = new Map<number, number>();
      for (const v of abs) {
        const k = v === 0 ? -Infinity : Math.floor(4 * Math.log2(v));
        bins.set(k, (bins.get(k) ?? 0) + 1);
      }
      for (const k of [...bins.keys()].sort((a, b) => a - b)) {
        hi.layer.push(layer), hi.tensor.push(tensor), hi.count.push(bins.get(k)!);
        hi.lo.push(k === -Infinity ? 0 : 2 ** (k / 4)),
          hi.hi.push(k === -Infinity ? 0 : 2 ** ((k + 1) / 4));
      }
    }
  }
  const metadata = {
    model: "synthetic",
    method: "none",
    samples: String(samples),
    max_len: String(sampleLen),
    tokens: String(tokens),
    source: "synthetic activations (tests/helpers/synthetic_stats.ts)",
    kit_version: "0.1.0",
    created: "2025-01-01T00:00:00.000Z",
    percentile_ema_weight: String(EMA_WEIGHT),
  };
  const table = (
    cols: Record<string, number[] | string[]>,
    types: Record<string, Int32 | Utf8 | Float64>,
  ) => {
    const t = new Table(
      Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, vectorFromArray(v, types[k])])),
    );
    for (const [k, v] of Object.entries(metadata)) t.schema.metadata.set(k, v);
    return t;
  };
  const I = new Int32(), S = new Utf8(), F = new Float64();
  return {
    scalars: table(sc, { layer: I, tensor: S, statistic: S, value: F }),
    channels: table(ch, { layer: I, tensor: S, channel: I, absmax: F }),
    histograms: table(hi, { layer: I, tensor: S, lo: F, hi: F, count: F }),
  };
}

/** Writes the synthetic tables as scalars.arrow, channels.arrow and histograms.arrow in `dir`. */
export async function writeSyntheticStats(
  dir: string,
  options: SyntheticOptions = {},
): Promise<SyntheticStats> {
  const stats = syntheticStats(options);
  for (const [name, table] of Object.entries(stats)) {
    await writeArrowFile(join(dir, `${name}.arrow`), table);
  }
  return stats;
}
