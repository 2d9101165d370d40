/**
 * What quantization changes in a model's predictions, where accuracy on small task samples
 * cannot tell: on held-out text, per-token KL(fp32 ‖ method) over the full vocabulary, how often
 * the top token stays the same, the change in log-perplexity (paired: the same tokens under both
 * models), and how the KL depends on the position in the window, each with a cluster-bootstrap
 * confidence interval over windows (lib/quality/bootstrap.ts).
 */
import type { Model } from "../model.ts";
import { openAnyModel } from "../eval/open_model.ts";
import { KitError } from "../errors.ts";
import { loadModel } from "../model.ts";
import type { Ep } from "../runtime.ts";
import {
  BOOTSTRAP_DEFAULTS,
  type BootstrapOptions,
  clusterDraws,
  ClusteredSample,
  type Estimate,
  estimateText,
} from "./bootstrap.ts";
import { compareLogits } from "./divergence.ts";
import { positionBuckets, scoringWindows, type Windows } from "./windows.ts";

/** The KL statistics reported for each method. */
export const KL_STATISTICS = ["mean", "median", "p90", "p99", "max"] as const;
export type KlStatistic = typeof KL_STATISTICS[number];

/** The per-token values of one method against the reference (for figures and further tests). */
export interface PerToken {
  kl: Float64Array;
  top1: Uint8Array;
  nllDelta: Float64Array;
}

/** How one method compares with the fp32 reference. */
export interface MethodQuality {
  method: string;
  /** KL(fp32 ‖ method) per token, nats: mean, median, p90, p99, max. */
  kl: Record<KlStatistic, Estimate>;
  /** Share of positions whose top token is the fp32 model's. */
  top1: Estimate;
  /** Mean NLL(method) − NLL(fp32) per token (nats): the change in log-perplexity. */
  nllDelta: Estimate;
  /** Perplexity ratio exp(nllDelta) (its interval mapped from nllDelta's). */
  pplRatio: Estimate;
  /** Mean KL and top-1 agreement by position in the window, [from, to). */
  byPosition: { from: number; to: number; tokens: number; kl: Estimate; top1: Estimate }[];
  perToken: PerToken;
  seconds: number;
}

/** The result of compareMethods. */
export interface Comparison {
  source: string;
  /** Where the held-out tokens came from. */
  text: string;
  reference: "fp32";
  tokens: number;
  windows: number;
  window: number;
  bootstrap: Required<BootstrapOptions> & { unit: "window" };
  /** The reference's mean NLL of the next token (nats) and its perplexity. */
  referenceNll: Estimate;
  methods: MethodQuality[];
}

/** A comparison without its per-token arrays (what a cell's JSON holds). */
export type ComparisonSummary = Omit<Comparison, "methods"> & {
  methods: Omit<MethodQuality, "perToken">[];
};

export interface CompareOptions {
  /** Held-out token ids (required; e.g. `model.tokenizer.encode(text)`). */
  ids: number[];
  /** What the ids are, for the results (e.g. the file). */
  text?: string;
  /** Tokens to score (whole windows); default 8192. */
  tokens?: number;
  /** Tokens per window (each from a fresh state); default 256. */
  window?: number;
  /** Windows per prefill run; default: up to 16, with at most 64 MiB of logits a run. */
  batch?: number;
  bootstrap?: BootstrapOptions;
  /** Opens a method's model (default: openAnyModel on the checkpoint, calibrated with `calibration`). */
  open?: (method: string) => Promise<Model>;
  /** Calibration text and samples for the default `open`. */
  calibration?: string;
  samples?: number;
  percentile?: number;
  ep?: Ep;
  threads?: number;
  /** Keep the reference's logits in memory up to this many bytes (else recompute); default 1 GiB. */
  cacheBytes?: number;
  /** One line per method (default: none). */
  log?: (line: string) => void;
}

/**
 * Compares each method with the fp32 model of `model` (a checkpoint folder, or an fp32 `Model`,
 * which is used and left open) on held-out tokens.
 *
 * @example
 * ```ts
 * const fp = await loadModel("data/models/embedded");
 * const ids = fp.tokenizer.encode(await Deno.readTextFile("data/heldout/time_machine.txt"));
 * const c = await compareMethods(fp, ["fp16", "w8a8", "quamba"], { ids, tokens: 4096 });
 * c.methods[2].kl.mean; // { value, lo, hi }
 * ```
 */
export async function compareMethods(
  model: Model | string,
  methods: string[],
  options: CompareOptions,
): Promise<Comparison> {
  if (!methods.length) throw new KitError("compareMethods: no methods given");
  const ownRef = typeof model === "string" || model.method !== "fp32";
  const source = typeof model === "string" ? model : model.source;
  const ref = ownRef
    ? await loadModel(source, { ep: options.ep, threads: options.threads })
    : model as Model;
  try {
    const w = scoringWindows(options.ids, {
      tokens: options.tokens ?? 8192,
      window: options.window ?? 256,
    });
    const boot = { ...BOOTSTRAP_DEFAULTS, ...options.bootstrap };
    const draws = clusterDraws(w.inputs.length, boot);
    // windows per run: up to 16, with at most 64 MiB of logits per run
    const batch = options.batch ??
      Math.max(1, Math.min(16, Math.floor(2 ** 26 / (w.window * ref.config.vocab_size * 4))));
    const scorer = new WindowScorer(ref, w, batch, options.cacheBytes ?? 2 ** 30);
    const open = options.open ?? ((method: string) =>
      openAnyModel(source, {
        method,
        calibration: options.calibration,
        samples: options.samples,
        percentile: options.percentile,
        ep: options.ep,
        threads: options.threads,
      }));
    const results: MethodQuality[] = [];
    for (const method of methods) {
      const t0 = performance.now();
      const m = await open(method);
      let per;
      try {
        per = await scorer.compare(m);
      } finally {
        await m.close();
      }
      const seconds = (performance.now() - t0) / 1000;
      const q = summarizeMethod(method, per, w, draws, boot.level, seconds);
      results.push(q);
      options.log?.(
        `${method}: KL mean ${estimateText(q.kl.mean)}, top-1 ${estimateText(q.top1)} ` +
          `(${seconds.toFixed(1)} s)`,
      );
    }
    const nllSample = new ClusteredSample(scorer.nllRef!, windowOf(w), w.inputs.length);
    const referenceNll = nllSample.estimate((c) => nllSample.mean(c), draws, boot.level);
    return {
      source,
      text: options.text ?? "(ids)",
      reference: "fp32",
      tokens: w.inputs.length * w.window,
      windows: w.inputs.length,
      window: w.window,
      bootstrap: { ...boot, unit: "window" },
      referenceNll,
      methods: results,
    };
  } finally {
    if (ownRef) await ref.close();
  }
}

/**
 * The window of every scored token, in window-major order.
 *
 * @example
 * ```ts
 * windowOf(scoringWindows(ids, { tokens: 512, window: 256 })); // 256 zeros, then 256 ones
 * ```
 */
export function windowOf(w: Windows): Int32Array {
  return Int32Array.from(
    { length: w.inputs.length * w.window },
    (_, k) => Math.floor(k / w.window),
  );
}

/** Runs the reference over the windows once (keeping its logits within a budget). */
class WindowScorer {
  private readonly cache = new Map<number, Float32Array>();
  nllRef?: Float64Array;
  constructor(
    private readonly ref: Model,
    private readonly w: Windows,
    private readonly batch: number,
    private readonly cacheBytes: number,
  ) {}

  private async refLogits(b: number, inputs: number[][]): Promise<Float32Array> {
    const hit = this.cache.get(b);
    if (hit) return hit;
    const logits = (await this.ref.prefill(inputs)).logits;
    const used = [...this.cache.values()].reduce((a, x) => a + x.byteLength, 0);
    if (used + logits.byteLength <= this.cacheBytes) this.cache.set(b, logits);
    return logits;
  }

  async compare(m: Model): Promise<PerToken & { nllRef: Float64Array }> {
    const { inputs, targets, window } = this.w, n = inputs.length * window;
    const v = this.ref.config.vocab_size;
    if (m.config.vocab_size !== v) {
      throw new KitError(`${m.method}: vocabulary ${m.config.vocab_size} ≠ the reference's ${v}`);
    }
    const out = {
      kl: new Float64Array(n),
      top1: new Uint8Array(n),
      nllDelta: new Float64Array(n),
      nllRef: new Float64Array(n),
    };
    for (let s = 0, b = 0; s < inputs.length; s += this.batch, b++) {
      const ins = inputs.slice(s, s + this.batch);
      const ref = await this.refLogits(b, ins);
      const other = (await m.prefill(ins)).logits;
      const c = compareLogits(ref, other, v, targets.slice(s, s + this.batch).flat());
      out.kl.set(c.kl, s * window);
      out.top1.set(c.top1, s * window);
      out.nllDelta.set(c.nllDelta, s * window);
      out.nllRef.set(c.nllRef, s * window);
    }
    this.nllRef ??= out.nllRef;
    return out;
  }
}

/**
 * The estimates of one method from its per-token values (the same draws for every method, so
 * that their intervals are paired).
 *
 * @example
 * ```ts
 * const q = summarizeMethod("w8a8", perToken, windows, clusterDraws(windows.inputs.length), 0.95);
 * ```
 */
export function summarizeMethod(
  method: string,
  per: PerToken,
  w: Windows,
  draws: Uint16Array[],
  level: number,
  seconds = 0,
): MethodQuality {
  const W = w.inputs.length, cluster = windowOf(w);
  const kl = new ClusteredSample(per.kl, cluster, W);
  const [mean, median, p90, p99, max] = kl.estimates(
    (c) => [kl.mean(c), ...kl.quantiles([0.5, 0.9, 0.99], c), kl.max(c)],
    draws,
    level,
  );
  const top = new ClusteredSample(Float64Array.from(per.top1), cluster, W);
  const nll = new ClusteredSample(per.nllDelta, cluster, W);
  const nllDelta = nll.estimate((c) => nll.mean(c), draws, level);
  const byPosition = positionBuckets(w.window).map(([from, to]) => {
    const keep = (k: number) => k % w.window >= from && k % w.window < to;
    const idx = Array.from(cluster.keys()).filter(keep);
    const sub = (x: ArrayLike<number>) => Float64Array.from(idx, (k) => x[k]);
    const cl = Int32Array.from(idx, (k) => cluster[k]);
    const k1 = new ClusteredSample(sub(per.kl), cl, W);
    const t1 = new ClusteredSample(sub(per.top1), cl, W);
    return {
      from,
      to,
      tokens: idx.length,
      kl: k1.estimate((c) => k1.mean(c), draws, level),
      top1: t1.estimate((c) => t1.mean(c), draws, level),
    };
  });
  return {
    method,
    kl: { mean, median, p90, p99, max },
    top1: top.estimate((c) => top.mean(c), draws, level),
    nllDelta,
    pplRatio: {
      value: Math.exp(nllDelta.value),
      lo: Math.exp(nllDelta.lo),
      hi: Math.exp(nllDelta.hi),
    },
    byPosition,
    perToken: per,
    seconds,
  };
}
