/** Per-operator times from onnxruntime's profiling JSON (Chrome trace events). */

/** One kernel-time event of the trace. */
interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string; provider?: string };
}

/** Total time per operator type over a trace. */
export interface OpTime {
  op: string;
  /** microseconds in all */
  us: number;
  calls: number;
}

/**
 * Sums the kernel times of a profiling trace by operator type, largest first. Kernels inside a
 * Scan body are counted under their own type and also inside the Scan's time: `scanBody` says
 * which types ran in a subgraph (their node names start with the body's prefix).
 *
 * @example
 * ```ts
 * const ops = opTimes(JSON.parse(await Deno.readTextFile(session.endProfiling())));
 * ```
 */
export function opTimes(trace: TraceEvent[], subgraphPrefix = "scan"): {
  ops: OpTime[];
  subgraph: OpTime[];
} {
  const top = new Map<string, OpTime>(), sub = new Map<string, OpTime>();
  for (const e of trace) {
    if (e.cat !== "Node" || !e.name?.endsWith("_kernel_time") || !e.args?.op_name) continue;
    const into = e.name.startsWith(subgraphPrefix) ? sub : top;
    const op = e.args.op_name;
    const t = into.get(op) ?? { op, us: 0, calls: 0 };
    t.us += e.dur ?? 0;
    t.calls++;
    into.set(op, t);
  }
  const sorted = (m: Map<string, OpTime>) => [...m.values()].sort((a, b) => b.us - a.us);
  return { ops: sorted(top), subgraph: sorted(sub) };
}

/** A short text table of op times (ms per run, share, calls per run). */
export function formatOpTimes(ops: OpTime[], runs: number, limit = 15): string {
  const total = ops.reduce((a, o) => a + o.us, 0);
  const lines = ops.slice(0, limit).map((o) =>
    `  ${o.op.padEnd(28)} ${(o.us / runs / 1000).toFixed(2).padStart(9)} ms ${
      (100 * o.us / total).toFixed(1).padStart(5)
    }% ${(o.calls / runs).toFixed(0).padStart(7)} calls`
  );
  return [...lines, `  ${"total".padEnd(28)} ${(total / runs / 1000).toFixed(2).padStart(9)} ms`]
    .join("\n");
}
