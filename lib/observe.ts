/**
 * Observing a model's activations (any architecture of lib/arch/registry.ts): a prefill graph
 * with an extra output for every activation a quantization recipe touches (lib/stats/schema.ts),
 * plus each Mamba mixer's out_proj input after the Hadamard rotation, run in chunks of the
 * sequence (states and attention caches carried) so that memory stays bounded.
 */
import { join } from "node:path";
import { archOfConfig, type ModelConfig } from "./arch/registry.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { graphCacheDir } from "./cache.ts";
import { exists } from "./fsutil.ts";
import type { GraphOptions, WeightSource } from "./arch/mamba/graph.ts";
import { hadamardOnnx } from "./onnx/hadamard_op.ts";
import { writeModelFolder } from "./onnx/save.ts";
import { createSession, type Ep, type Session, Tensor } from "./runtime.ts";
import type { StatTensor } from "./stats/schema.ts";
import { zeroState } from "./state.ts";

/** Called with each observed activation of a chunk: [rows, channels] row-major, float32. */
export type Visit = (
  layer: number,
  tensor: StatTensor,
  data: Float32Array,
  channels: number,
) => void;

/**
 * Runs a checkpoint's observation graph.
 *
 * @example
 * ```ts
 * const obs = await ActivationObserver.open(await openCheckpoint("data/models/embedded"));
 * await obs.observe(ids, (layer, tensor, data) => console.log(layer, tensor, data.length));
 * ```
 */
export class ActivationObserver {
  private constructor(
    readonly config: ModelConfig,
    private readonly session: Session,
  ) {}

  /** Builds (or finds in the cache) the observation graph of a checkpoint and opens it. */
  static async open(
    ckpt: Checkpoint,
    options: { ep?: Ep; cacheDir?: string; threads?: number } = {},
  ): Promise<ActivationObserver> {
    // architectures with their own default scan (Mamba-2) observe through it
    const scan = archOfConfig(ckpt.config).defaultScan?.(options.ep ?? "cpu");
    const variant = scan ? `observe-float32-${scan}` : "observe-float32";
    const dir = await graphCacheDir(ckpt, variant, options.cacheDir);
    return await ActivationObserver.openFor(
      ckpt.config,
      ckpt.src,
      dir,
      {
        ...options,
        source: ckpt.dir,
      },
    );
  }

  /** The observation graph of any weights (e.g. transformed ones), built into `dir` if missing. */
  static async openFor(
    config: ModelConfig,
    src: WeightSource,
    dir: string,
    options: { ep?: Ep; threads?: number; source?: string } = {},
  ): Promise<ActivationObserver> {
    if (!(await exists(join(dir, "prefill.onnx")))) {
      const scan = archOfConfig(config).defaultScan?.(options.ep ?? "cpu");
      const opt: GraphOptions = { weights: "float32", compute: "float32", ...(scan && { scan }) };
      const g = archOfConfig(config).buildPrefill(config, src, opt, {
        act(g, layer, name, value, channels) {
          // x_proj.input: the same values as u; a Mamba-2 state and the lm_head input are not
          // per-token activations of a block (lib/quant/quamba2 observes them itself)
          if (name === "x_proj.input" || name === "ssm_state" || name === "lm_head.input") {
            return value;
          }
          g.output(value, "float32", ["batch", "seq", channels], `act.${layer}.${name}`);
          if (name === "y") {
            g.output(
              hadamardOnnx(g, value, channels, 3),
              "float32",
              ["batch", "seq", channels],
              `act.${layer}.y_had`,
            );
          }
          return value;
        },
      });
      await writeModelFolder(dir, { "prefill.onnx": g }, {
        metadata: { source: options.source ?? "", purpose: "observe" },
      });
    }
    const session = await createSession(join(dir, "prefill.onnx"), options.ep ?? "cpu", {
      threads: options.threads,
    });
    return new ActivationObserver(config, session);
  }

  /**
   * Runs one sequence through the model `chunk` tokens at a time (carrying the states), and
   * calls `visit` with every activation of every chunk.
   */
  async observe(ids: number[], visit: Visit, options: { chunk?: number } = {}): Promise<void> {
    const layout = archOfConfig(this.config).stateLayout(this.config);
    const chunk = options.chunk ?? 512;
    const feeds: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(zeroState(layout, 1).tensors)) feeds[`past_${name}`] = t;
    for (let start = 0; start < ids.length; start += chunk) {
      const piece = ids.slice(start, start + chunk);
      feeds.input_ids = new Tensor("int64", BigInt64Array.from(piece, BigInt), [
        1,
        piece.length,
      ]);
      const out = await this.session.run(feeds);
      for (const [name, t] of Object.entries(out)) {
        const m = /^act\.(\d+)\.(.+)$/.exec(name);
        if (m) visit(Number(m[1]), m[2] as StatTensor, t.data as Float32Array, t.dims[2]);
      }
      for (const t of layout) feeds[`past_${t.name}`] = out[`present_${t.name}`] as Tensor;
    }
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
