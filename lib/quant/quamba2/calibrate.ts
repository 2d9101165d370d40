/**
 * The statistics Quamba2's scales come from (min–max observers, as the authors' Quamba2 path
 * uses: no percentile), for a Mamba-2 model as its graphs compute it (after the residual
 * rotation when the recipe has one): each calibration sample is run whole from a zero state.
 *
 * Per layer: |·|max of the in_proj input, of in_proj's z and dt parts and, per channel, of its
 * x ‖ B ‖ C part; per channel of the conv output's x (and its mean |x| over a sample's tokens,
 * maxed over samples: the reordering statistic), B and C; of the out_proj input, plain and
 * Hadamard-rotated; per element of the SSM state each sample ends with. And the lm_head input.
 */
import { join } from "node:path";
import type { Mamba2Config } from "../../arch/mamba2/config.ts";
import { mamba2Dims } from "../../arch/mamba2/config.ts";
import { buildMamba2Prefill } from "../../arch/mamba2/graph.ts";
import type { CalibrationSet } from "../../calibration.ts";
import type { WeightSource } from "../../onnx/hooks.ts";
import { hadamardOnnx } from "../../onnx/hadamard_op.ts";
import { writeModelFolder } from "../../onnx/save.ts";
import { Progress } from "../../progress.ts";
import { createSession, type Ep, Tensor } from "../../runtime.ts";
import { zeroState } from "../../state.ts";
import { mamba2StateLayout } from "../../arch/mamba2/mod.ts";
import { kitTempDir } from "../../temp.ts";

/** One layer's statistics. */
export interface Mamba2LayerStats {
  inProjInput: number;
  z: number;
  dt: number;
  /** per channel of x ‖ B ‖ C before the conv [c] */
  xBC: Float32Array;
  /** per channel of the conv output's x [e], B and C [g n] */
  u: Float32Array;
  B: Float32Array;
  C: Float32Array;
  /** per channel of x: mean |x| over a sample's tokens, max over samples [e] */
  uMeanAbs: Float32Array;
  y: number;
  yHad: number;
  /** per element of the final SSM state [h p n] */
  state: Float32Array;
}

/** Every layer's statistics and the lm_head input's. */
export interface Mamba2Stats {
  layers: Mamba2LayerStats[];
  lmHeadInput: number;
  tokens: number;
}

const absmax = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Max of |x| per channel (last axis) into `into`. */
function channelMax(into: Float32Array, a: Float32Array) {
  const c = into.length;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]), k = i % c;
    if (v > into[k]) into[k] = v;
  }
}

/**
 * Runs the calibration samples through a Mamba-2 model and collects Quamba2's statistics.
 *
 * @example
 * ```ts
 * const stats = await calibrateMamba2(config, src, calib, { ep: "cpu" });
 * stats.layers[0].state.length; // h * p * n
 * ```
 */
export async function calibrateMamba2(
  config: Mamba2Config,
  src: WeightSource,
  calib: CalibrationSet,
  options: { ep?: Ep; threads?: number; progress?: boolean } = {},
): Promise<Mamba2Stats> {
  const { e, c, g, n, h, p } = mamba2Dims(config), L = config.num_hidden_layers;
  const layers: Mamba2LayerStats[] = Array.from({ length: L }, () => ({
    inProjInput: 0,
    z: 0,
    dt: 0,
    xBC: new Float32Array(c),
    u: new Float32Array(e),
    B: new Float32Array(g * n),
    C: new Float32Array(g * n),
    uMeanAbs: new Float32Array(e),
    y: 0,
    yHad: 0,
    state: new Float32Array(h * p * n),
  }));
  const wanted = new Set(["in_proj.input", "z", "dt", "xBC", "u", "B", "C", "y", "lm_head.input"]);
  const graph = buildMamba2Prefill(config, src, {
    weights: "float32",
    compute: "float32",
    scan: "parallel",
  }, {
    act(gr, layer, name, value, channels) {
      if (!wanted.has(name)) return value;
      gr.output(value, "float32", ["batch", "seq", channels], `act.${layer}.${name}`);
      if (name === "y") {
        const rot = hadamardOnnx(gr, value, channels, 3);
        gr.output(rot, "float32", ["batch", "seq", channels], `act.${layer}.y_had`);
      }
      return value;
    },
  });
  const dir = await kitTempDir("quamba2-calibrate");
  let lmHeadInput = 0, tokens = 0;
  try {
    await writeModelFolder(join(dir, "g"), { "prefill.onnx": graph });
    const session = await createSession(join(dir, "g", "prefill.onnx"), options.ep ?? "cpu", {
      threads: options.threads,
    });
    const layout = mamba2StateLayout(config);
    const bar = options.progress === false
      ? undefined
      : new Progress("calibrating (Quamba2)", calib.samples.length);
    try {
      for (const ids of calib.samples) {
        const feeds: Record<string, Tensor> = {};
        for (const [k, t] of Object.entries(zeroState(layout, 1).tensors)) feeds[`past_${k}`] = t;
        feeds.input_ids = new Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]);
        const out = await session.run(feeds);
        tokens += ids.length;
        for (const [name, t] of Object.entries(out)) {
          const data = t.data as Float32Array;
          const st = /^present_ssm\.(\d+)$/.exec(name);
          if (st) channelMax(layers[Number(st[1])].state, data);
          const m = /^act\.(\d+)\.(.+)$/.exec(name);
          if (!m) continue;
          const [i, what] = [Number(m[1]), m[2]];
          if (what === "lm_head.input") {
            lmHeadInput = Math.max(lmHeadInput, absmax(data));
            continue;
          }
          const s = layers[i];
          if (what === "in_proj.input") s.inProjInput = Math.max(s.inProjInput, absmax(data));
          else if (what === "z") s.z = Math.max(s.z, absmax(data));
          else if (what === "dt") s.dt = Math.max(s.dt, absmax(data));
          else if (what === "y") s.y = Math.max(s.y, absmax(data));
          else if (what === "y_had") s.yHad = Math.max(s.yHad, absmax(data));
          else if (what === "xBC") channelMax(s.xBC, data);
          else if (what === "B") channelMax(s.B, data);
          else if (what === "C") channelMax(s.C, data);
          else if (what === "u") {
            channelMax(s.u, data);
            const mean = new Float64Array(e);
            for (let k = 0; k < data.length; k++) mean[k % e] += Math.abs(data[k]);
            for (let k = 0; k < e; k++) {
              s.uMeanAbs[k] = Math.max(s.uMeanAbs[k], mean[k] / (data.length / e));
            }
          }
        }
        bar?.tick(1, `${tokens} tokens`);
      }
    } finally {
      bar?.done();
      await session.release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return { layers, lmHeadInput, tokens };
}
