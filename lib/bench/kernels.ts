/**
 * What a run costs an execution provider besides its arithmetic: the fixed cost of one
 * `session.run` (a one-node graph), the cost of one more kernel (a chain of small Adds), and the
 * kernels a decode step of a model launches, by provider (from onnxruntime's profile: on a GPU
 * EP, kernels that fall back to the CPU show up under CPUExecutionProvider, with copies between).
 */
import { join } from "node:path";
import { Graph } from "../onnx/builder.ts";
import { writeModelFolder } from "../onnx/save.ts";
import { createSession, type Ep, type Session, Tensor } from "../runtime.ts";
import { summarize } from "../stats_time.ts";
import { archOfConfig, type ModelConfig } from "../arch/registry.ts";
import { zeroState } from "../state.ts";
import { kitTempDir } from "../temp.ts";

export interface EpOverhead {
  /** median ms of one run of a one-Add graph (inputs in, output out) */
  runMs: number;
  /** median extra µs per kernel, from a chain of `chain` Adds over `width` floats */
  kernelUs: number;
  chain: number;
  width: number;
}

function chainGraph(n: number, width: number): Graph {
  const g = new Graph(`chain${n}`);
  let x = g.input("x", "float32", [width]);
  const one = g.const("float32", new Float32Array(width).fill(1e-3), [width]);
  for (let i = 0; i < n; i++) x = g.op(i % 2 ? "Add" : "Mul", [x, one]);
  g.output(x, "float32", [width], "y");
  return g;
}

async function medianRunMs(s: Session, width: number, runs: number) {
  const feeds = { x: new Tensor("float32", new Float32Array(width).fill(1), [width]) };
  for (let i = 0; i < 5; i++) await s.run(feeds);
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await s.run(feeds);
    xs.push(performance.now() - t);
  }
  return summarize(xs).median;
}

/**
 * Measures the fixed cost of a run and the cost of a kernel on `ep`.
 *
 * @example
 * ```ts
 * const o = await epOverhead("webgpu"); // { runMs: 2.1, kernelUs: 20, ... }
 * ```
 */
export async function epOverhead(
  ep: Ep,
  options: { chain?: number; width?: number; runs?: number; webgpu?: Record<string, string> } = {},
): Promise<EpOverhead> {
  const { chain = 400, width = 4096, runs = 30, webgpu } = options;
  const dir = await kitTempDir("overhead");
  try {
    const folder = join(dir, "m");
    await writeModelFolder(folder, {
      "one.onnx": chainGraph(1, width),
      "chain.onnx": chainGraph(chain, width),
    });
    const one = await createSession(join(folder, "one.onnx"), ep, { webgpu });
    const long = await createSession(join(folder, "chain.onnx"), ep, { webgpu });
    const runMs = await medianRunMs(one, width, runs);
    const chainMs = await medianRunMs(long, width, runs);
    await one.release();
    await long.release();
    return { runMs, kernelUs: (chainMs - runMs) / (chain - 1) * 1000, chain, width };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Kernels of one decode step, by provider, and the op types that ran off the main EP. */
export interface StepKernels {
  /** kernel launches per step, all providers */
  perStep: number;
  byProvider: Record<string, number>;
  /** op type → launches per step, for kernels not on `ep`'s own provider */
  offload: Record<string, number>;
}

const PROVIDER: Record<Ep, string> = {
  cpu: "CPUExecutionProvider",
  webgpu: "WebGpuExecutionProvider",
  cuda: "CUDAExecutionProvider",
};

/** Kernel events of an onnxruntime profiling trace, per run of `runs`. */
export function stepKernels(
  trace: { cat?: string; name?: string; args?: { op_name?: string; provider?: string } }[],
  runs: number,
  ep: Ep,
): StepKernels {
  const byProvider: Record<string, number> = {}, offload: Record<string, number> = {};
  let n = 0;
  for (const e of trace) {
    if (e.cat !== "Node" || !e.name?.endsWith("_kernel_time") || !e.args?.op_name) continue;
    const p = e.args.provider ?? "?";
    byProvider[p] = (byProvider[p] ?? 0) + 1 / runs;
    if (p !== PROVIDER[ep]) offload[e.args.op_name] = (offload[e.args.op_name] ?? 0) + 1 / runs;
    n++;
  }
  return { perStep: n / runs, byProvider, offload };
}

/** Feeds of one decode step of one sequence from a zero state (token id 1). */
export function zeroDecodeFeeds(config: ModelConfig): Record<string, Tensor> {
  const f: Record<string, Tensor> = {
    input_ids: new Tensor("int64", BigInt64Array.of(1n), [1]),
  };
  const state = zeroState(archOfConfig(config).stateLayout(config), 1);
  for (const [name, t] of Object.entries(state.tensors)) f[`past_${name}`] = t;
  return f;
}

/**
 * Opens `decode.onnx` of `dir` with profiling, runs `steps` decode steps from a zero state and
 * counts the kernels per step (the first run is counted too: the kernels do not change).
 */
export async function profileDecodeKernels(
  dir: string,
  config: ModelConfig,
  ep: Ep,
  steps = 3,
): Promise<StepKernels> {
  const tmp = await kitTempDir("kernels");
  try {
    const s = await createSession(join(dir, "decode.onnx"), ep, {
      profileFilePrefix: join(tmp, "decode"),
    });
    const feeds = zeroDecodeFeeds(config);
    for (let i = 0; i < steps; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const file = [...Deno.readDirSync(tmp)].find((f) => f.name.startsWith("decode"));
    if (!file) throw new Error("onnxruntime wrote no profile");
    return stepKernels(JSON.parse(await Deno.readTextFile(join(tmp, file.name))), steps, ep);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
