/**
 * How a session's runs call into onnxruntime: on the calling thread, or on a thread of Deno's
 * blocking pool (a non-blocking FFI call: the event loop keeps going, at the price of a thread
 * hand-off), chosen per run under "auto" by how long the previous run took; and the calls in
 * flight, which the session waits for before it is released.
 */

/** Runs that took longer than this go off-thread next time under "auto". */
export const LONG_RUN_MS = 50;

/** `true`: off-thread; `false`: the calling thread; "auto": by the previous run's time. */
export type CallMode = boolean | "auto";

/**
 * The default mode: `$QUAMBA_ORT_NONBLOCKING` ("1", "0" or "auto"), else "auto".
 *
 * @example
 * ```ts
 * defaultCallMode(); // "auto" unless $QUAMBA_ORT_NONBLOCKING says otherwise
 * ```
 */
export function defaultCallMode(): CallMode {
  try {
    const v = Deno.env.get("QUAMBA_ORT_NONBLOCKING");
    if (v === "auto" || v === undefined) return "auto";
    return v !== "0" && v !== "false";
  } catch {
    return "auto"; // no env permission
  }
}

let blockedMs = 0;

/**
 * After a run on the calling thread: every ~50 ms of such runs, one turn of the event loop
 * (setTimeout 0), so that timers, signal handlers and I/O are not starved by a loop of awaited
 * runs whose promises are already resolved — Ctrl-C, the end-with-parent check of lib/cli.ts and
 * progress bars need it during a long generation.
 *
 * @example
 * ```ts
 * await breathe(12); // returns at once until 50 ms of blocking runs add up
 * ```
 */
export async function breathe(ms: number): Promise<void> {
  blockedMs += ms;
  if (blockedMs < LONG_RUN_MS) return;
  blockedMs = 0;
  await new Promise((r) => setTimeout(r, 0));
}

/**
 * The calls of one session.
 *
 * @example
 * ```ts
 * const calls = new Calls("auto");
 * calls.offThread; // false: no run took long yet
 * calls.record(120);
 * calls.offThread; // true
 * ```
 */
export class Calls {
  #lastMs = 0;
  #inflight = new Set<Promise<unknown>>();

  constructor(readonly mode: CallMode = defaultCallMode()) {}

  /** Whether the next run goes off-thread. */
  get offThread(): boolean {
    return this.mode === "auto" ? this.#lastMs > LONG_RUN_MS : this.mode;
  }

  /** Notes how long a run took. */
  record(ms: number): void {
    this.#lastMs = ms;
  }

  /** Tracks a non-blocking call until it settles. */
  track<T>(call: Promise<T>): Promise<T> {
    this.#inflight.add(call);
    const done = () => this.#inflight.delete(call);
    call.then(done, done);
    return call;
  }

  /** Waits for the calls in flight. */
  async settled(): Promise<void> {
    if (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
  }
}
