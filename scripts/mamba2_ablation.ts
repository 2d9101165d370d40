/**
 * Which parts of Quamba2's recipes matter on a Mamba-2 checkpoint: KL from fp32 on held-out text
 * (lib/quality, 8192 tokens) of each recipe with one part switched off (`quantize`'s `recipe`
 * option), and the int8 SSM state's effect in decoding (the held-out text fed token by token
 * after a 16-token prefill, where the state a graph returns is read again). README "Mamba-2"
 * quotes docs/quality/mamba2_tiny_ablation.log, this script's output on the tiny fixture.
 *
 *   deno run -A scripts/mamba2_ablation.ts [MODEL_DIR]
 */
import { loadModel, type Model } from "../lib/model.ts";
import { DEFAULT_HELDOUT, MAMBA2_TINY_MODEL } from "../lib/paths.ts";
import { compareMethods } from "../lib/quality/compare.ts";
import { quantize } from "../lib/quant/quantize.ts";
import type { Mamba2Recipe } from "../lib/quant/quamba2/recipes.ts";

const dir = Deno.args[0] ?? MAMBA2_TINY_MODEL;
const VARIANTS: Record<string, [string, Partial<Mamba2Recipe>?]> = {
  "quamba2-w8a8": ["quamba2-w8a8"],
  "quamba2-w8a8, no rotation": ["quamba2-w8a8", { rotate: false }],
  "quamba2-w8a8, no groups": ["quamba2-w8a8", { groups: false }],
  "quamba2-w8a8, float state": ["quamba2-w8a8", { stateInt8: false }],
  "w8a8": ["w8a8"],
  "quamba2-w4a16": ["quamba2-w4a16"],
  "quamba2-w4a16, no rotation": ["quamba2-w4a16", { rotate: false }],
  "quamba2-w4a16, round-to-nearest": ["quamba2-w4a16", { gptq: false }],
  "w4a16-rtn": ["w4a16-rtn"],
};
const open = (label: string) =>
  quantize(dir, { method: VARIANTS[label][0], recipe: VARIANTS[label][1], progress: false });

const fp = await loadModel(dir);
const text = fp.tokenizer.encode(await Deno.readTextFile(DEFAULT_HELDOUT));
const c = await compareMethods(fp, Object.keys(VARIANTS), { ids: text, tokens: 8192, open });
console.log(
  `KL(fp32 ‖ variant), ${c.tokens} tokens of ${DEFAULT_HELDOUT}, 95% bootstrap intervals`,
);
for (const m of c.methods) {
  const kl = m.kl.mean;
  console.log(
    `${m.method.padEnd(34)} ${kl.value.toFixed(4)} [${kl.lo.toFixed(4)}, ${kl.hi.toFixed(4)}]` +
      `  top-1 ${(100 * m.top1.value).toFixed(1)}%`,
  );
}

/** Mean KL from fp32 of decode steps: 16 windows, a 16-token prefill then 239 steps each. */
async function decodeKl(q: Model): Promise<number> {
  const v = fp.config.vocab_size;
  const lse = (r: Float32Array) => {
    let m = -Infinity, z = 0;
    for (const x of r) m = Math.max(m, x);
    for (const x of r) z += Math.exp(x - m);
    return m + Math.log(z);
  };
  let s = 0, n = 0;
  for (let w = 0; w < 16; w++) {
    const ids = text.slice(w * 512, w * 512 + 256);
    const ref = await fp.logits(ids);
    let { state } = await q.prefill([ids.slice(0, 16)]);
    for (let t = 16; t < 255; t++) {
      const out = await q.decode([ids[t]], state);
      state = out.state;
      const a = ref.subarray(t * v, (t + 1) * v), b = out.logits, la = lse(a), lb = lse(b);
      for (let j = 0; j < v; j++) s += Math.exp(a[j] - la) * (a[j] - la - (b[j] - lb));
      n++;
    }
  }
  return s / n;
}
for (const label of ["quamba2-w8a8", "quamba2-w8a8, float state"]) {
  const q = await open(label);
  console.log(`decode KL, ${label}: ${(await decodeKl(q)).toFixed(4)} (16 × 239 steps)`);
  await q.close();
}
await fp.close();
