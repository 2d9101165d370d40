/**
 * `OrtSessionOptions` from a plain description: threads, graph optimisation level, log level,
 * config entries, the optimised-model path, profiling, free-dimension overrides, execution
 * providers in order of preference, and initializers shared with other sessions.
 */
import { KitError } from "../errors.ts";
import { ort } from "./api.ts";
import { LOG_LEVEL, type LogLevel } from "./env.ts";
import { cString, OutPointer } from "./ffi.ts";
import { NativeHandle } from "./handle.ts";
import { appendProvider, type Provider } from "./providers.ts";
import { check } from "./status.ts";
import type { OrtValue } from "./value.ts";

/** `GraphOptimizationLevel` values. */
export const OPTIMIZATION_LEVEL = {
  disabled: 0,
  basic: 1,
  extended: 2,
  layout: 3,
  all: 99,
} as const;

/** What a session is created with. */
export interface SessionConfig {
  /** Threads for one operator (`SetIntraOpNumThreads`); 0 or absent: onnxruntime's choice. */
  intraOpThreads?: number;
  /** Threads across operators (`SetInterOpNumThreads`). */
  interOpThreads?: number;
  /** Graph optimisations; default "all". */
  optimization?: keyof typeof OPTIMIZATION_LEVEL;
  /** Session log severity; default "error". */
  logLevel?: LogLevel;
  /** Session config entries (`AddSessionConfigEntry`, keys of
   * `onnxruntime_session_options_config_keys.h`). */
  config?: Record<string, string>;
  /** Where onnxruntime writes the graph after its optimisations. */
  optimizedModelFilePath?: string;
  /** Per-operator profiling: onnxruntime writes `<prefix>_<date>.json`. */
  profileFilePrefix?: string;
  /** Symbolic dimensions fixed by name (`AddFreeDimensionOverrideByName`). */
  freeDimensions?: Record<string, number>;
  /** Execution providers in order of preference (the CPU is always the last resort). */
  providers?: Provider[];
  /** Initializers provided by the caller (`AddInitializer`): the session uses these values
   * instead of loading its own copy; they must outlive the session. */
  initializers?: Map<string, OrtValue>;
}

function int(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0) {
    throw new KitError(`${what} must be a non-negative integer, got ${v}`);
  }
  return v;
}

/**
 * Native session options for `c` (release with `close()` once the session is created).
 *
 * @example
 * ```ts
 * const so = createSessionOptions({ intraOpThreads: 2, config: { "session.use_env_allocators": "1" } });
 * so.close();
 * ```
 */
export function createSessionOptions(c: SessionConfig = {}): NativeHandle {
  const api = ort();
  const out = new OutPointer();
  check(api.CreateSessionOptions(out.slot()), "CreateSessionOptions");
  const so = new NativeHandle("OrtSessionOptions", out.get()!, (p) => api.ReleaseSessionOptions(p));
  try {
    const p = so.ptr;
    const level = OPTIMIZATION_LEVEL[c.optimization ?? "all"];
    if (level === undefined) {
      throw new KitError(`unknown graph optimization level '${c.optimization}'`);
    }
    check(api.SetSessionGraphOptimizationLevel(p, level), "SetSessionGraphOptimizationLevel");
    check(
      api.SetSessionLogSeverityLevel(p, LOG_LEVEL[c.logLevel ?? "error"]),
      "SetSessionLogSeverityLevel",
    );
    if (c.intraOpThreads) {
      check(
        api.SetIntraOpNumThreads(p, int(c.intraOpThreads, "intraOpThreads")),
        "SetIntraOpNumThreads",
      );
    }
    if (c.interOpThreads) {
      check(
        api.SetInterOpNumThreads(p, int(c.interOpThreads, "interOpThreads")),
        "SetInterOpNumThreads",
      );
    }
    for (const [k, v] of Object.entries(c.config ?? {})) {
      check(
        api.AddSessionConfigEntry(p, cString(k), cString(v)),
        `AddSessionConfigEntry(${k}=${v})`,
      );
    }
    if (c.optimizedModelFilePath) {
      check(
        api.SetOptimizedModelFilePath(p, cString(c.optimizedModelFilePath)),
        "SetOptimizedModelFilePath",
      );
    }
    if (c.profileFilePrefix) {
      check(api.EnableProfiling(p, cString(c.profileFilePrefix)), "EnableProfiling");
    }
    for (const [name, v] of Object.entries(c.freeDimensions ?? {})) {
      check(
        api.AddFreeDimensionOverrideByName(
          p,
          cString(name),
          BigInt(int(v, `free dimension ${name}`)),
        ),
        `AddFreeDimensionOverrideByName(${name}=${v})`,
      );
    }
    for (const [name, value] of c.initializers ?? []) {
      check(api.AddInitializer(p, cString(name), value.ptr), `AddInitializer(${name})`);
      so.keep(value);
    }
    for (const provider of c.providers ?? []) appendProvider(p, provider);
    return so;
  } catch (e) {
    so.close();
    throw e;
  }
}

/**
 * A session config entry of native options, or undefined (for tests of what was set).
 *
 * @example
 * ```ts
 * sessionConfigEntry(createSessionOptions({ config: { a: "1" } }), "a"); // "1"
 * ```
 */
export function sessionConfigEntry(so: NativeHandle, key: string): string | undefined {
  const api = ort();
  const has = new Int32Array(1);
  check(api.HasSessionConfigEntry(so.ptr, cString(key), has), "HasSessionConfigEntry");
  if (!has[0]) return undefined;
  const size = new BigUint64Array(1);
  check(api.GetSessionConfigEntry(so.ptr, cString(key), null, size), "GetSessionConfigEntry");
  const buf = new Uint8Array(Number(size[0]));
  check(api.GetSessionConfigEntry(so.ptr, cString(key), buf, size), "GetSessionConfigEntry");
  return new TextDecoder().decode(buf.subarray(0, Math.max(0, Number(size[0]) - 1)));
}
