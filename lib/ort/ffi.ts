/**
 * Small helpers for Deno FFI calls into a C API: null-terminated UTF-8 strings, arrays of
 * pointers, out-parameters, and reading C strings back.
 */

const encoder = new TextEncoder();

/** A pointer as Deno FFI passes it (`null` for NULL). */
export type Ptr = Deno.PointerValue;

/**
 * A null-terminated UTF-8 copy of `s` (keep it referenced while C reads it).
 *
 * @example
 * ```ts
 * const name = cString("logits");
 * ```
 */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  if (bytes.includes(0)) throw new TypeError(`string ${JSON.stringify(s)} contains a NUL byte`);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/**
 * The address of a buffer's first byte (stable: ArrayBuffer backing stores do not move).
 *
 * @example
 * ```ts
 * const p = addressOf(new Float32Array(4));
 * ```
 */
export function addressOf(buf: ArrayBufferView): Ptr {
  return Deno.UnsafePointer.of(buf as ArrayBufferView<ArrayBuffer>);
}

/**
 * An array of C pointers (`T**` arguments), filled from pointers or from buffers whose
 * addresses are taken (e.g. an array of C strings).
 *
 * @example
 * ```ts
 * const names = [cString("a"), cString("b")];
 * const arr = pointerArray(names.map(addressOf)); // const char* const*
 * ```
 */
export function pointerArray(ptrs: Ptr[]): BigUint64Array<ArrayBuffer> {
  const out = new BigUint64Array(Math.max(ptrs.length, 1));
  ptrs.forEach((p, i) => out[i] = BigInt(Deno.UnsafePointer.value(p)));
  return out;
}

/**
 * One pointer-sized out-parameter (`T**`): `slot()` to pass, `get()` after the call.
 *
 * @example
 * ```ts
 * const out = new OutPointer();
 * check(ort().CreateRunOptions(out.slot()), "CreateRunOptions");
 * const ro = out.get();
 * ```
 */
export class OutPointer {
  readonly buf = new BigUint64Array(1);
  /** The slot to pass as the out argument. */
  slot(): BigUint64Array<ArrayBuffer> {
    this.buf[0] = 0n;
    return this.buf;
  }
  /** The pointer the callee wrote (null if none). */
  get(): Ptr {
    return Deno.UnsafePointer.create(this.buf[0]);
  }
}

/**
 * The pointer at `index` of a C array of pointers.
 *
 * @example
 * ```ts
 * const second = readPointer(array, 1);
 * ```
 */
export function readPointer(base: Ptr, index = 0): Ptr {
  if (base === null) return null;
  return new Deno.UnsafePointerView(base).getPointer(index * 8);
}

/**
 * A C string as a JS string ("" for NULL).
 *
 * @example
 * ```ts
 * readCString(ort().GetBuildInfoString()); // "ORT Build Info: ..."
 * ```
 */
export function readCString(p: Ptr): string {
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}
