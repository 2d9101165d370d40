/**
 * The kit's error type: every message names the file, tensor, field or line at fault.
 *
 * @example
 * ```ts
 * import { KitError } from "./errors.ts";
 * throw new KitError("config.json: field 'hidden_size' must be a positive integer, got -1");
 * ```
 */
export class KitError extends Error {
  override name = "KitError";
}
