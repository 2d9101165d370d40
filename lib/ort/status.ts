/**
 * `OrtStatus*` results: NULL is success; anything else becomes an `OrtError` (a KitError) with
 * onnxruntime's message and error code, and the status object is released.
 */
import { KitError } from "../errors.ts";
import { ort } from "./api.ts";
import type { Ptr } from "./ffi.ts";

/** `OrtErrorCode` names, by value. */
export const ORT_ERROR_CODES = [
  "ORT_OK",
  "ORT_FAIL",
  "ORT_INVALID_ARGUMENT",
  "ORT_NO_SUCHFILE",
  "ORT_NO_MODEL",
  "ORT_ENGINE_ERROR",
  "ORT_RUNTIME_EXCEPTION",
  "ORT_INVALID_PROTOBUF",
  "ORT_MODEL_LOADED",
  "ORT_NOT_IMPLEMENTED",
  "ORT_INVALID_GRAPH",
  "ORT_EP_FAIL",
  "ORT_MODEL_LOAD_CANCELED",
  "ORT_MODEL_REQUIRES_COMPILATION",
  "ORT_NOT_FOUND",
] as const;

/**
 * An error onnxruntime reported: `ortMessage` is its text, `code` its `OrtErrorCode`.
 *
 * @example
 * ```ts
 * try { session.run(feeds); } catch (e) { if (e instanceof OrtError) console.log(e.codeName); }
 * ```
 */
export class OrtError extends KitError {
  override name = "OrtError";
  constructor(
    /** What the kit was doing (e.g. "CreateSession(model.onnx)"). */
    readonly action: string,
    readonly code: number,
    readonly ortMessage: string,
  ) {
    super(`onnxruntime ${action}: ${ortMessage} [${ORT_ERROR_CODES[code] ?? `code ${code}`}]`);
  }
  /** The `OrtErrorCode` name, e.g. `ORT_INVALID_ARGUMENT`. */
  get codeName(): string {
    return ORT_ERROR_CODES[this.code] ?? `code ${this.code}`;
  }
}

/**
 * Throws an `OrtError` for a non-NULL status (releasing it); returns for NULL.
 *
 * @example
 * ```ts
 * check(ort().CreateSessionOptions(out.slot()), "CreateSessionOptions");
 * ```
 */
export function check(status: Ptr, action: string): void {
  if (status === null) return;
  throw statusError(status, action);
}

/**
 * The error a non-NULL status carries; the status is released.
 *
 * @example
 * ```ts
 * if (status !== null) throw statusError(status, "Run(decode.onnx)");
 * ```
 */
export function statusError(status: Deno.PointerObject, action: string): OrtError {
  const api = ort();
  try {
    const code = api.GetErrorCode(status);
    const msg = api.GetErrorMessage(status);
    return new OrtError(
      action,
      code,
      msg === null ? "" : Deno.UnsafePointerView.getCString(msg).trim(),
    );
  } finally {
    api.ReleaseStatus(status);
  }
}
