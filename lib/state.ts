/**
 * The state of a batch of sequences between runs, for any architecture: the tensors of its
 * layout (lib/arch/types.ts `StateTensorSpec`: Mamba's conv windows and SSM states, attention's
 * key/value caches), by name and, for convenience, by kind in layer order.
 */
import type { StateTensorSpec } from "./arch/types.ts";
import { Tensor } from "./runtime.ts";

/** The state of `batch` sequences that have each seen `seen` tokens. */
export interface ModelState {
  batch: number;
  /** Tokens each sequence has seen: the length of the attention caches. */
  seen: number;
  /** Every tensor of the layout by name (`conv.0`, `ssm.0`, `key.1`, ...); fed as `past_<name>`. */
  tensors: Record<string, Tensor>;
  /** The Mamba mixers' conv windows [b, e, k-1], in layer order (for Mamba, layer i at [i]). */
  conv: Tensor[];
  /** The Mamba mixers' SSM states [b, e, n], in layer order. */
  ssm: Tensor[];
  /** The attention layers' key caches [b, G, seen, hd], in layer order (none for Mamba). */
  key: Tensor[];
  /** The attention layers' value caches [b, G, seen, hd], in layer order. */
  value: Tensor[];
}

/**
 * A state from its tensors (`get` returns the tensor of each spec of the layout).
 *
 * @example
 * ```ts
 * const s = makeState(layout, 1, 0, (t) => zeros(t.dims(1, 0)));
 * ```
 */
export function makeState(
  layout: StateTensorSpec[],
  batch: number,
  seen: number,
  get: (spec: StateTensorSpec) => Tensor,
): ModelState {
  const s: ModelState = { batch, seen, tensors: {}, conv: [], ssm: [], key: [], value: [] };
  for (const spec of layout) {
    const t = get(spec);
    s.tensors[spec.name] = t;
    s[spec.kind].push(t);
  }
  return s;
}

/**
 * The zero state of `batch` sequences that have seen nothing (attention caches of length 0).
 *
 * @example
 * ```ts
 * const s = zeroState(archOfConfig(cfg).stateLayout(cfg), 2);
 * ```
 */
export function zeroState(layout: StateTensorSpec[], batch: number): ModelState {
  return makeState(layout, batch, 0, (spec) => {
    const dims = spec.dims(batch, 0);
    return new Tensor("float32", new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  });
}
