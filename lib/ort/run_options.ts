/**
 * `OrtRunOptions`: a run's log level and tag, the terminate flag (from another thread or a
 * non-blocking run), and run config entries (`AddRunConfigEntry`, e.g. `gpu_graph_id` to pick
 * the captured CUDA graph a run replays).
 */
import { ort } from "./api.ts";
import { LOG_LEVEL, type LogLevel } from "./env.ts";
import { cString, OutPointer, readCString } from "./ffi.ts";
import { NativeHandle } from "./handle.ts";
import { check } from "./status.ts";

/** Run config keys of `onnxruntime_run_options_config_keys.h` the kit uses. */
export const RUN_CONFIG = {
  /** Which captured graph (CUDA graphs / WebGPU graph capture) a run uses; "-1" skips capture. */
  gpuGraphId: "gpu_graph_id",
  /** "1": release the CPU arena's unused memory when the run ends. */
  shrinkCpuArena: "memory.enable_memory_arena_shrinkage",
} as const;

/** What a run is made with. */
export interface RunConfig {
  logLevel?: LogLevel;
  tag?: string;
  /** Run config entries. */
  config?: Record<string, string>;
}

/**
 * Run options.
 *
 * @example
 * ```ts
 * const ro = new RunOptions({ tag: "decode", config: { gpu_graph_id: "1" } });
 * ro.configEntry("gpu_graph_id"); // "1"
 * ro.close();
 * ```
 */
export class RunOptions {
  readonly handle: NativeHandle;

  constructor(c: RunConfig = {}) {
    const api = ort();
    const out = new OutPointer();
    check(api.CreateRunOptions(out.slot()), "CreateRunOptions");
    this.handle = new NativeHandle("OrtRunOptions", out.get()!, (p) => api.ReleaseRunOptions(p));
    try {
      if (c.logLevel) {
        check(
          api.RunOptionsSetRunLogSeverityLevel(this.ptr, LOG_LEVEL[c.logLevel]),
          "RunOptionsSetRunLogSeverityLevel",
        );
      }
      if (c.tag !== undefined) {
        check(api.RunOptionsSetRunTag(this.ptr, cString(c.tag)), "RunOptionsSetRunTag");
      }
      for (const [k, v] of Object.entries(c.config ?? {})) this.set(k, v);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  get ptr(): Deno.PointerObject {
    return this.handle.ptr;
  }

  /** Sets a run config entry (overwrites an earlier value). */
  set(key: string, value: string): this {
    check(
      ort().AddRunConfigEntry(this.ptr, cString(key), cString(value)),
      `AddRunConfigEntry(${key}=${value})`,
    );
    return this;
  }

  /** A run config entry, or undefined. */
  configEntry(key: string): string | undefined {
    const p = ort().GetRunConfigEntry(this.ptr, cString(key));
    return p === null ? undefined : readCString(p);
  }

  /** The run tag. */
  get tag(): string {
    const out = new OutPointer();
    check(ort().RunOptionsGetRunTag(this.ptr, out.slot()), "RunOptionsGetRunTag");
    return readCString(out.get());
  }

  /** Makes runs with these options stop with an error as soon as they can (any thread). */
  terminate(): void {
    check(ort().RunOptionsSetTerminate(this.ptr), "RunOptionsSetTerminate");
  }

  /** Clears the terminate flag so the options can be used again. */
  unsetTerminate(): void {
    check(ort().RunOptionsUnsetTerminate(this.ptr), "RunOptionsUnsetTerminate");
  }

  close(): void {
    this.handle.close();
  }
}
