/** Copying rows of recurrent states: one context's state replicated for its continuations. */
import { KitError } from "../errors.ts";
import type { MambaState, Model } from "../model.ts";

/** A row of a batched state, or `null` for the zero state. */
export type StateRow = { state: MambaState; row: number } | null;

/**
 * A state of `rows.length` sequences whose row `i` is a copy of `rows[i]` (rows may repeat).
 *
 * @example
 * ```ts
 * const { state } = await model.prefill([ctx]);
 * const four = gatherState(model, [0, 1, 2, 3].map(() => ({ state, row: 0 })));
 * ```
 */
export function gatherState(model: Model, rows: StateRow[]): MambaState {
  const out = model.initialState(rows.length);
  const copy = (kind: "conv" | "ssm") => {
    out[kind].forEach((dst, layer) => {
      const d = dst.data as Float32Array;
      const size = d.length / rows.length;
      rows.forEach((r, i) => {
        if (r === null) return;
        const src = r.state[kind][layer];
        if (src.type !== "float32") {
          throw new KitError(`state ${kind}.${layer}: expected float32, got ${src.type}`);
        }
        const s = src.data as Float32Array;
        if (s.length !== size * r.state.batch) {
          throw new KitError(
            `state ${kind}.${layer}: ${s.length} values for a batch of ${r.state.batch}, ` +
              `expected ${size} per row`,
          );
        }
        d.set(s.subarray(r.row * size, (r.row + 1) * size), i * size);
      });
    });
  };
  copy("conv");
  copy("ssm");
  return out;
}
