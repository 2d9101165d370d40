/**
 * Quamba2's grouping of the SSM input x for its per-group scales, as the authors coded it
 * (enyac-group/Quamba, quamba/reorder_utils.py, `group_wise_sort_indices`): per channel, the mean
 * |x| over a sample's tokens, maxed over samples; in each head the channels sorted by it
 * (ascending); within each SSD group (n_groups) the heads clustered into 4 head groups by Ward's
 * agglomerative clustering of their sorted, L2-normalised statistics; within each head group the
 * sorted channel positions clustered into 4 channel groups by k-means (initial centres at
 * positions 0, p/4, p/2, 3p/4), which keeps them contiguous. Each (SSD group, head group,
 * channel group) then has one scale of x, and one per state dimension for the SSM state.
 *
 * The authors permute in_proj, conv1d, A_log, D, dt_bias, the gated norm and out_proj so that a
 * group's channels are adjacent for their kernels; the kit's emulation gives each channel its
 * group's scale instead, the same numbers without moving weights (lib/quant/quamba2/hooks.ts).
 * Dimensions: lib/arch/mamba2/config.ts.
 */

/** Which group every channel of x belongs to. */
export interface XGroups {
  /** Per channel of x [e] (head-major, as in_proj emits it): its group index. */
  group: Int32Array;
  /** Number of groups (n_groups × head groups × channel groups). */
  count: number;
  /** Per head [h]: its head group (0..3) within its SSD group. */
  headGroup: Int32Array;
}

/**
 * The groups of x from its channel statistic `stat` [e] (mean |x| per sample, max over samples).
 *
 * @example
 * ```ts
 * const g = groupChannels(stat, { h: 8, p: 12, g: 1 });
 * g.count; // 16
 * ```
 */
export function groupChannels(
  stat: ArrayLike<number>,
  dims: { h: number; p: number; g: number },
  options: { headGroups?: number; channelGroups?: number } = {},
): XGroups {
  const { h, p, g } = dims, perGroup = h / g;
  const HG = Math.min(options.headGroups ?? 4, perGroup),
    CG = Math.min(options.channelGroups ?? 4, p);
  const group = new Int32Array(h * p), headGroup = new Int32Array(h);
  for (let sg = 0; sg < g; sg++) {
    // per head: channel order by the statistic, and the sorted statistic normalised
    const heads = Array.from({ length: perGroup }, (_, k) => sg * perGroup + k);
    const order = heads.map((hh) =>
      Array.from({ length: p }, (_, j) => j).sort((a, b) => stat[hh * p + a] - stat[hh * p + b])
    );
    const feats = heads.map((hh, k) => {
      const v = order[k].map((j) => stat[hh * p + j]);
      const norm = Math.hypot(...v) || 1;
      return v.map((x) => x / norm);
    });
    const labels = ward(feats, HG);
    // clusters numbered by their first head, as argsort of labels would order them
    heads.forEach((hh, k) => (headGroup[hh] = labels[k]));
    for (let c = 0; c < HG; c++) {
      const members = heads.map((_, k) => k).filter((k) => labels[k] === c);
      // each sorted position j is a point whose coordinates are the member heads' statistics
      const points = Array.from({ length: p }, (_, j) => members.map((k) => feats[k][j]));
      const cg = kmeans(points, Array.from({ length: CG }, (_, q) => Math.floor(q * p / CG)));
      for (const k of members) {
        order[k].forEach((j, rank) => {
          group[heads[k] * p + j] = (sg * HG + c) * CG + cg[rank];
        });
      }
    }
  }
  return { group, count: g * HG * CG, headGroup };
}

/** Ward-linkage agglomerative clustering of `x` into `k` clusters; labels by first member. */
export function ward(x: number[][], k: number): Int32Array {
  let clusters = x.map((v, i) => ({ members: [i], centre: v.slice() }));
  const cost = (a: typeof clusters[0], b: typeof clusters[0]) => {
    let d2 = 0;
    for (let j = 0; j < a.centre.length; j++) d2 += (a.centre[j] - b.centre[j]) ** 2;
    const na = a.members.length, nb = b.members.length;
    return (na * nb) / (na + nb) * d2; // the increase in within-cluster variance
  };
  while (clusters.length > k) {
    let best = [0, 1], bestCost = Infinity;
    for (let i = 0; i < clusters.length; i++) {
      for (let j = i + 1; j < clusters.length; j++) {
        const c = cost(clusters[i], clusters[j]);
        if (c < bestCost) [bestCost, best] = [c, [i, j]];
      }
    }
    const [a, b] = [clusters[best[0]], clusters[best[1]]];
    const n = a.members.length + b.members.length;
    const merged = {
      members: [...a.members, ...b.members],
      centre: a.centre.map((v, j) => (v * a.members.length + b.centre[j] * b.members.length) / n),
    };
    clusters = clusters.filter((_, i) => i !== best[0] && i !== best[1]);
    clusters.push(merged);
  }
  clusters.sort((a, b) => Math.min(...a.members) - Math.min(...b.members));
  const labels = new Int32Array(x.length);
  clusters.forEach((c, l) => c.members.forEach((i) => (labels[i] = l)));
  return labels;
}

/** Lloyd's k-means, k = init.length, from the given initial points (indices into `x`); labels per point. */
export function kmeans(x: number[][], init: number[]): Int32Array {
  let centres = init.map((i) => x[i].slice());
  const labels = new Int32Array(x.length).fill(-1);
  for (let iter = 0; iter < 300; iter++) {
    let changed = false;
    x.forEach((v, i) => {
      let best = 0, bestD = Infinity;
      centres.forEach((c, q) => {
        let d = 0;
        for (let j = 0; j < v.length; j++) d += (v[j] - c[j]) ** 2;
        if (d < bestD) [bestD, best] = [d, q];
      });
      if (labels[i] !== best) [labels[i], changed] = [best, true];
    });
    if (!changed) break;
    centres = centres.map((c, q) => {
      const mine = x.filter((_, i) => labels[i] === q);
      return mine.length ? c.map((_, j) => mine.reduce((s, v) => s + v[j], 0) / mine.length) : c;
    });
  }
  return labels;
}
