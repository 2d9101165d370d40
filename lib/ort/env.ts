/**
 * The process's one `OrtEnv`: created on first use, logging warnings and worse, telemetry off.
 * onnxruntime's POSIX telemetry (a device id and an event store under
 * `~/.cache/Microsoft/DeveloperTools/.onnxruntime/`) is switched off twice: the environment
 * variable onnxruntime reads when the env is created (`ORT_DISABLE_TELEMETRY=1`; set, whatever
 * its value was, before the env exists: calling `DisableTelemetryEvents` afterwards alone
 * still leaves the store written), and `DisableTelemetryEvents` is called on the env.
 */
import { ort } from "./api.ts";
import { cString, OutPointer } from "./ffi.ts";
import { check } from "./status.ts";

/** `OrtLoggingLevel` values. */
export const LOG_LEVEL = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;
export type LogLevel = keyof typeof LOG_LEVEL;

let env: Deno.PointerObject | undefined;

/**
 * The `OrtEnv*` of this process (never released: onnxruntime keeps one env per process, and
 * sessions may outlive any owner).
 *
 * @example
 * ```ts
 * const e = ortEnv();
 * ```
 */
export function ortEnv(): Deno.PointerObject {
  if (env) return env;
  try {
    Deno.env.set("ORT_DISABLE_TELEMETRY", "1"); // read by onnxruntime when the env is created
  } catch { /* no env permission: DisableTelemetryEvents below still applies */ }
  const api = ort();
  const out = new OutPointer();
  check(api.CreateEnv(LOG_LEVEL.warning, cString("quamba-kit"), out.slot()), "CreateEnv");
  const e = out.get()!;
  check(api.DisableTelemetryEvents(e), "DisableTelemetryEvents");
  env = e;
  return e;
}
