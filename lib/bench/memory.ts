/**
 * Memory accounting: weight bytes from a graph's initializers, the bytes a decode step reads,
 * the recurrent state's bytes from the config, and the process's resident memory.
 */
import onnxProto from "onnx-proto";
import { archOfConfig, type ModelConfig } from "../arch/registry.ts";
import { readProcFile, writeProcFile } from "../proc_files.ts";

type ModelProto = onnxProto.onnx.IModelProto;

/** Bytes per element of the ONNX tensor types a graph may hold. */
const ELEM_BYTES: Record<number, number> = {
  1: 4, // float
  2: 1, // uint8
  3: 1, // int8
  4: 2, // uint16
  5: 2, // int16
  6: 4, // int32
  7: 8, // int64
  9: 1, // bool
  10: 2, // float16
  11: 8, // double
  12: 4, // uint32
  13: 8, // uint64
  16: 2, // bfloat16
};

/** Reads an ONNX model file's structure (external weights are not read). */
export async function readModelProto(path: string): Promise<ModelProto> {
  return onnxProto.onnx.ModelProto.decode(await Deno.readFile(path));
}

/** Name → [dims, bytes] of every initializer of the main graph. */
export function initializers(model: ModelProto): Map<string, { dims: number[]; bytes: number }> {
  const out = new Map<string, { dims: number[]; bytes: number }>();
  for (const t of model.graph?.initializer ?? []) {
    const dims = (t.dims ?? []).map(Number);
    const size = ELEM_BYTES[t.dataType ?? 0];
    if (size === undefined) throw new Error(`initializer '${t.name}': unknown type ${t.dataType}`);
    out.set(t.name!, { dims, bytes: dims.reduce((a, b) => a * b, 1) * size });
  }
  return out;
}

/** Bytes of all initializers of several graphs, each name counted once (shared weights). */
export function weightBytes(models: ModelProto[]): number {
  const all = new Map<string, number>();
  for (const m of models) for (const [name, t] of initializers(m)) all.set(name, t.bytes);
  return [...all.values()].reduce((a, b) => a + b, 0);
}

/**
 * Bytes of weights one run of `model` reads for `batch` tokens: every initializer in full,
 * except tables that are only gathered from (the embedding), of which one row per token.
 */
export function bytesReadPerRun(model: ModelProto, batch = 1): number {
  const nodes = model.graph?.node ?? [];
  let total = 0;
  for (const [name, t] of initializers(model)) {
    const uses = nodes.flatMap((n) =>
      (n.input ?? []).map((inp, i) => inp === name ? { op: n.opType, i } : undefined)
        .filter((u) => u !== undefined)
    );
    const gatherOnly = uses.length > 0 && uses.every((u) => u!.op === "Gather" && u!.i === 0);
    total += gatherOnly && t.dims.length >= 1
      ? Math.min(t.bytes, batch * t.bytes / t.dims[0])
      : t.bytes;
  }
  return total;
}

/**
 * Bytes of the state of `batch` sequences that have seen `seen` tokens, float32: conv windows
 * and SSM states, and attention's key/value caches (which grow with `seen`).
 */
export function stateBytes(config: ModelConfig, batch = 1, seen = 0): number {
  return archOfConfig(config).stateLayout(config).reduce(
    (a, t) => a + t.dims(batch, seen).reduce((x, y) => x * y, 1) * 4,
    0,
  );
}

/** Peak and current resident memory of this process (bytes), from /proc/self/status. */
export function residentMemory(): { peak: number; current: number } | undefined {
  try {
    const s = readProcFile("/proc/self/status");
    if (s === undefined) return undefined;
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(s)?.[1]);
    return { peak: kb("VmHWM") * 1024, current: kb("VmRSS") * 1024 };
  } catch {
    const rss = Deno.memoryUsage().rss;
    return { peak: rss, current: rss };
  }
}

/** Resets the kernel's peak-RSS counter (VmHWM), so that a later peak is one phase's; false if
 * the system does not allow it. */
export function resetPeakMemory(): boolean {
  try {
    if (!writeProcFile("/proc/self/clear_refs", "5")) return false;
    return true;
  } catch {
    return false;
  }
}

/** Samples the resident size every `ms` (catches peaks where /proc is not available). */
export class RssSampler {
  peak = 0;
  private id: ReturnType<typeof setInterval>;
  constructor(ms = 20) {
    this.sample();
    this.id = setInterval(() => this.sample(), ms);
  }
  sample(): void {
    this.peak = Math.max(this.peak, Deno.memoryUsage().rss);
  }
  stop(): number {
    clearInterval(this.id);
    this.sample();
    return this.peak;
  }
}

/** Megabytes (10^6 bytes), as the paper's tables give them. */
export const MB = 1e6;
