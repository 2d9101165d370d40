/**
 * Memory bandwidth by a copy benchmark (STREAM's "copy": bytes read + bytes written, per
 * second), on one or more threads, each copying its own buffers much larger than the caches;
 * and the decode step's bandwidth floor that it implies.
 */
import { summarize } from "../stats_time.ts";

export interface Bandwidth {
  /** bytes per second, best of the repeats (read + write counted) */
  bytesPerSecond: number;
  /** median of the repeats */
  medianBytesPerSecond: number;
  threads: number;
  /** bytes of each thread's source buffer */
  bufferBytes: number;
}

function worker(): Worker {
  return new Worker(new URL("./copy_worker.ts", import.meta.url).href, { type: "module" });
}

function next(w: Worker): Promise<{ ms?: number }> {
  return new Promise((resolve, reject) => {
    w.onmessage = (e) => resolve(e.data);
    w.onerror = (e) => reject(e);
  });
}

/**
 * Copies `bufferBytes` per thread `reps` times per repeat on `threads` workers at once.
 *
 * @example
 * ```ts
 * const bw = await copyBandwidth({ threads: 2 });
 * console.log(`${(bw.bytesPerSecond / 1e9).toFixed(1)} GB/s`);
 * ```
 */
export async function copyBandwidth(
  options: { threads?: number; bufferBytes?: number; reps?: number; repeats?: number } = {},
): Promise<Bandwidth> {
  const threads = options.threads ?? navigator.hardwareConcurrency;
  const bufferBytes = options.bufferBytes ?? 256 * 2 ** 20;
  const reps = options.reps ?? 4, repeats = options.repeats ?? 5;
  const ws = Array.from({ length: threads }, worker);
  try {
    await Promise.all(ws.map((w) => {
      const p = next(w);
      w.postMessage({ bytes: bufferBytes });
      return p;
    }));
    const rates: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t = performance.now();
      await Promise.all(ws.map((w) => {
        const p = next(w);
        w.postMessage({ reps });
        return p;
      }));
      const s = (performance.now() - t) / 1000;
      rates.push(threads * reps * 2 * bufferBytes / s);
    }
    return {
      bytesPerSecond: Math.max(...rates),
      medianBytesPerSecond: summarize(rates).median,
      threads,
      bufferBytes,
    };
  } finally {
    ws.forEach((w) => w.terminate());
  }
}

/**
 * The bandwidth floor of a decode step: the time to stream the weights it reads (and its
 * state, read and written) once at `bytesPerSecond`; and how far a measured step is above it.
 *
 * @example
 * ```ts
 * bandwidthFloor({ weightBytes: 130e6, stateBytes: 1.8e6, bytesPerSecond: 20e9, stepMs: 9 });
 * // { floorMs: 6.68, ratio: 1.35 }
 * ```
 */
export function bandwidthFloor(
  o: { weightBytes: number; stateBytes: number; bytesPerSecond: number; stepMs?: number },
): { floorMs: number; ratio?: number } {
  const floorMs = (o.weightBytes + 2 * o.stateBytes) / o.bytesPerSecond * 1000;
  return { floorMs, ratio: o.stepMs === undefined ? undefined : o.stepMs / floorMs };
}
