/**
 * What onnxruntime makes of a benchmark model's graphs: node counts by operator type after its
 * optimisations (the fused nodes), and the weight bytes the optimised decode step reads per token
 * (after constant folding: e.g. float16 weights cast to float32 at load on the CPU EP). Written
 * once next to the graphs (`inspect.<ep>.t<threads>.json`) and reused.
 */
import { join } from "node:path";
import { exists, writeFileAtomic } from "../fsutil.ts";
import { createSession, type Ep } from "../runtime.ts";
import { bytesReadPerRun, readModelProto, weightBytes } from "./memory.ts";
import { kitTempDir } from "../temp.ts";

/** Operators onnxruntime adds by fusion (contrib domain or fused names). */
const FUSED =
  /^(QLinear|MatMulInteger|MatMulNBits|DynamicQuantize|Fused|Simplified|SkipSimplified|QGemm|QAttention|NhwcConv|QuickGelu|BiasGelu|MatMulIntegerToFloat|Gemm)/;

export interface GraphInspection {
  /** nodes of the optimised graph by op type */
  ops: Record<string, number>;
  nodes: number;
  /** nodes of fused / contrib operator types */
  fused: Record<string, number>;
}

export interface Inspection {
  prefill: GraphInspection;
  decode: GraphInspection;
  /** initializer bytes of the graphs as built (shared weights counted once) */
  weightBytes: number;
  /** weight bytes one optimised decode step reads (embedding: one row) */
  decodeBytesPerToken: number;
  /** the same, counted in the graphs as built */
  decodeBytesPerTokenBuilt: number;
}

function countOps(model: Awaited<ReturnType<typeof readModelProto>>): GraphInspection {
  const ops: Record<string, number> = {};
  for (const n of model.graph?.node ?? []) ops[n.opType!] = (ops[n.opType!] ?? 0) + 1;
  const fused = Object.fromEntries(Object.entries(ops).filter(([op]) => FUSED.test(op)));
  return { ops, nodes: Object.values(ops).reduce((a, b) => a + b, 0), fused };
}

/**
 * Inspects `dir` (prefill.onnx, decode.onnx) on `ep` with `threads`, or reads the earlier result.
 *
 * @example
 * ```ts
 * const ins = await inspectModel(dir, "cpu");
 * ins.decode.fused; // { MatMulIntegerToFloat: 72, QLinearMatMul: 24, ... }
 * ```
 */
export async function inspectModel(dir: string, ep: Ep, threads?: number): Promise<Inspection> {
  const cached = join(dir, `inspect.${ep}.t${threads ?? 0}.json`);
  if (await exists(cached)) return JSON.parse(await Deno.readTextFile(cached));
  const built = {
    prefill: await readModelProto(join(dir, "prefill.onnx")),
    decode: await readModelProto(join(dir, "decode.onnx")),
  };
  // GPU EPs: the graphs as built (writing an optimised copy of a multi-GB model costs minutes of
  // device time); the kernels a step runs come from a profiled run (lib/bench/kernels.ts)
  const opt = ep === "cpu" ? await optimisedGraphs(dir, ep, threads) : built;
  const builtBytes = bytesReadPerRun(built.decode);
  const result: Inspection = {
    prefill: countOps(opt.prefill),
    decode: countOps(opt.decode),
    weightBytes: weightBytes([built.prefill, built.decode]),
    decodeBytesPerToken: opt === built ? builtBytes : bytesReadPerRun(opt.decode),
    decodeBytesPerTokenBuilt: builtBytes,
  };
  await writeFileAtomic(cached, JSON.stringify(result, null, 2));
  return result;
}

/** The graphs of `dir` as onnxruntime optimises them on `ep` (written to a temporary folder). */
async function optimisedGraphs(dir: string, ep: Ep, threads?: number) {
  const tmp = await kitTempDir("inspect");
  try {
    const opt: Record<string, Awaited<ReturnType<typeof readModelProto>>> = {};
    for (const g of ["prefill", "decode"] as const) {
      const path = join(tmp, `${g}.onnx`);
      const s = await createSession(join(dir, `${g}.onnx`), ep, {
        threads,
        optimizedModelFilePath: path,
        config: {
          "session.optimized_model_external_initializers_file_name": `${g}.weights`,
          "session.optimized_model_external_initializers_min_size_in_bytes": "1024",
        },
      });
      await s.release();
      opt[g] = await readModelProto(path);
    }
    return { prefill: opt.prefill, decode: opt.decode };
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
