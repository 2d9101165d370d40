/** Copying rows of states: one context's state replicated for its continuations. */
import { KitError } from "../errors.ts";
import type { MambaState, Model } from "../model.ts";
import { makeState } from "../state.ts";
import { Tensor } from "../runtime.ts";

/** A row of a batched state, or `null` for the zero state. */
export type StateRow = { state: MambaState; row: number } | null;

/**
 * A state of `rows.length` sequences whose row `i` is a copy of `rows[i]` (rows may repeat).
 * Attention caches (which grow with the tokens seen) can only be gathered from rows that have
 * seen as many tokens; recurrent states from any rows.
 *
 * @example
 * ```ts
 * const { state } = await model.prefill([ctx]);
 * const four = gatherState(model, [0, 1, 2, 3].map(() => ({ state, row: 0 })));
 * ```
 */
export function gatherState(model: Model, rows: StateRow[]): MambaState {
  const seens = new Set(rows.map((r) => (r === null ? 0 : r.state.seen)));
  const grows = model.stateLayout.some((t) => t.grows);
  if (grows && seens.size > 1) {
    throw new KitError(
      `gatherState: rows have seen ${[...seens].join(", ")} tokens; attention caches can only ` +
        `be gathered from rows of equal length`,
    );
  }
  const seen = Math.max(...seens), b = rows.length;
  return makeState([...model.stateLayout], b, seen, (spec) => {
    const dims = spec.dims(b, seen);
    const d = new Float32Array(dims.reduce((x, y) => x * y, 1));
    const size = d.length / b;
    rows.forEach((r, i) => {
      if (r === null) return;
      const src = r.state.tensors[spec.name];
      if (!src || src.type !== "float32") {
        throw new KitError(`state ${spec.name}: expected float32, got ${src?.type ?? "nothing"}`);
      }
      const s = src.data as Float32Array;
      if (s.length !== size * r.state.batch) {
        throw new KitError(
          `state ${spec.name}: ${s.length} values for a batch of ${r.state.batch}, ` +
            `expected ${size} per row`,
        );
      }
      d.set(s.subarray(r.row * size, (r.row + 1) * size), i * size);
    });
    return new Tensor("float32", d, dims);
  });
}
