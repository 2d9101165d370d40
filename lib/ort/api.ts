/**
 * The `OrtApi` functions of `ORT_API` as callable JS functions, read from the loaded library's
 * function table once, plus non-blocking variants (run on another thread, returning a Promise)
 * of the calls that take long: creating a session and running one.
 */
import { type ApiFn, type ApiName, apiVersionOf, ORT_API } from "./api_table.ts";
import { ortEnv } from "./env.ts";
import { ortLibrary } from "./library.ts";

type Callable<F extends ApiFn> = Deno.UnsafeFnPointer<
  { parameters: F["parameters"]; result: F["result"] }
>["call"];

/** Every function of `ORT_API`, bound. */
export type OrtApi = { [K in ApiName]: Callable<(typeof ORT_API)[K]> };

type Async<F extends ApiFn> = Deno.UnsafeFnPointer<
  { parameters: F["parameters"]; result: F["result"]; nonblocking: true }
>["call"];

/** The functions that also have a non-blocking variant. */
export const NONBLOCKING = [
  "Run",
  "RunWithBinding",
  "CreateSession",
  "CreateSessionFromArray",
  "CreateSessionWithPrepackedWeightsContainer",
  "CreateSessionFromArrayWithPrepackedWeightsContainer",
] as const;

/** Non-blocking variants: the call runs on a thread of Deno's blocking pool. */
export type OrtApiAsync = { [K in (typeof NONBLOCKING)[number]]: Async<(typeof ORT_API)[K]> };

let bound: { sync: OrtApi; async: OrtApiAsync } | undefined;

function slot(table: Deno.UnsafePointerView, name: string, f: ApiFn): Deno.PointerObject<never> {
  const p = table.getPointer(f.index * 8);
  if (p === null) throw new Error(`OrtApi::${name} (index ${f.index}) is NULL in this library`);
  return p as Deno.PointerObject<never>;
}

function bind(): { sync: OrtApi; async: OrtApiAsync } {
  if (bound) return bound;
  const lib = ortLibrary();
  const table = new Deno.UnsafePointerView(lib.api);
  const sync: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(ORT_API) as [string, ApiFn][]) {
    if (apiVersionOf(f.index) > lib.apiVersion) continue; // checked by ortLibrary already
    const ptr = new Deno.UnsafeFnPointer(slot(table, name, f), {
      parameters: f.parameters,
      result: f.result,
    });
    sync[name] = ptr.call.bind(ptr);
  }
  const async: Record<string, unknown> = {};
  for (const name of NONBLOCKING) {
    const f: ApiFn = ORT_API[name];
    const ptr = new Deno.UnsafeFnPointer(slot(table, name, f), {
      parameters: f.parameters,
      result: f.result,
      nonblocking: true,
    });
    async[name] = ptr.call.bind(ptr);
  }
  bound = { sync: sync as OrtApi, async: async as OrtApiAsync };
  // some calls log through onnxruntime's default logger, which the env sets up: create it
  // before anything else runs
  ortEnv();
  return bound;
}

/**
 * The bound C API (loads the library on first use).
 *
 * @example
 * ```ts
 * const p = ort().GetBuildInfoString();
 * ```
 */
export function ort(): OrtApi {
  return bind().sync;
}

/**
 * The non-blocking variants of the long calls (`Run`, `CreateSession`, ...).
 *
 * @example
 * ```ts
 * const status = await ortAsync().Run(...args); // on another thread
 * ```
 */
export function ortAsync(): OrtApiAsync {
  return bind().async;
}
