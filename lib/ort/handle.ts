/**
 * Ownership of one native onnxruntime object: released by an explicit `close()` (a second
 * close does nothing), or by a FinalizationRegistry when its JS wrapper is collected unclosed;
 * using it after close is a KitError that names the object.
 */
import { KitError } from "../errors.ts";

let live = 0;

interface Held {
  ptr: Deno.PointerObject;
  release: (p: Deno.PointerObject) => void;
  /** Kept alive until the release: buffers the object points into, parents it needs. */
  keep: unknown[];
}

const registry = new FinalizationRegistry<Held>((h) => {
  live--;
  try {
    h.release(h.ptr);
  } catch { /* nothing to report to at finalization */ }
  h.keep.length = 0;
});

/**
 * Native objects created and not yet released (for leak tests).
 *
 * @example
 * ```ts
 * const before = liveHandles();
 * (await Session.create(path)).release();
 * liveHandles() === before; // true
 * ```
 */
export function liveHandles(): number {
  return live;
}

/**
 * An owned native pointer.
 *
 * @example
 * ```ts
 * const h = new NativeHandle("OrtRunOptions", ptr, (p) => ort().ReleaseRunOptions(p));
 * h.close();
 * h.close(); // harmless
 * ```
 */
export class NativeHandle {
  #held: Held | undefined;

  constructor(
    /** What the object is, for error messages (e.g. "OrtSession(decode.onnx)"). */
    readonly kind: string,
    ptr: Deno.PointerObject,
    release: (p: Deno.PointerObject) => void,
    keep: unknown[] = [],
  ) {
    this.#held = { ptr, release, keep };
    live++;
    registry.register(this, this.#held, this);
  }

  /** The pointer; a KitError once closed. */
  get ptr(): Deno.PointerObject {
    if (!this.#held) throw new KitError(`${this.kind} used after it was closed`);
    return this.#held.ptr;
  }

  /** Whether `close()` ran. */
  get closed(): boolean {
    return this.#held === undefined;
  }

  /** Keeps `x` alive as long as the native object. */
  keep(x: unknown): void {
    this.ptr;
    this.#held!.keep.push(x);
  }

  /** Releases the native object now; later calls do nothing. */
  close(): void {
    const h = this.#held;
    if (!h) return;
    this.#held = undefined;
    registry.unregister(this);
    live--;
    h.release(h.ptr);
    h.keep.length = 0;
  }
}
