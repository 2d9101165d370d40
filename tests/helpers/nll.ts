/** Mean next-token negative log-likelihood (nats) of `ids` under the logits [len, v] of a prefill. */
export function meanNll(logits: Float32Array, ids: number[], v: number): number {
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray(t * v, (t + 1) * v);
    let mx = -Infinity;
    for (const x of row) mx = Math.max(mx, x);
    let z = 0;
    for (const x of row) z += Math.exp(x - mx);
    nll += mx + Math.log(z) - row[ids[t + 1]];
  }
  return nll / (ids.length - 1);
}
