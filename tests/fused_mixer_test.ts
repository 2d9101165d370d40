/**
 * The mixers through onnxruntime's fused contrib operators (`scan: "fused"`:
 * CausalConvWithState and LinearAttention, lib/onnx/fused_mixer.ts) compute what the Scan graphs
 * compute: logits and states of prefills, chunked prefills and decode steps, for Mamba and Jamba.
 */
import assert from "node:assert/strict";
import { loadModel, type Model } from "../lib/model.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { TEST_EP } from "./helpers/ep.ts";
import { assertClose } from "./helpers/assert.ts";

const cacheDir = await Deno.makeTempDir({ prefix: "quamba-fused-" });

async function compare(dir: string, what: string) {
  const open = (scan?: "fused") => loadModel(dir, { ep: TEST_EP, scan, cacheDir });
  const [ref, fused]: Model[] = [await open(), await open("fused")];
  try {
    const v = ref.config.vocab_size;
    const ids = Array.from({ length: 37 }, (_, i) => (i * 7919 + 11) % v);
    const a = await ref.prefill([ids]), b = await fused.prefill([ids]);
    assertClose(b.logits, a.logits, 1e-5, `${what} prefill logits`);
    for (const name of Object.keys(a.state.tensors)) {
      assertClose(
        (await b.state.tensors[name].getData()) as Float32Array,
        (await a.state.tensors[name].getData()) as Float32Array,
        1e-5,
        `${what} state ${name}`,
      );
    }
    // a prefill from a state (a second piece), then decode steps
    const more = ids.slice(0, 9);
    const a2 = await ref.prefill([more], a.state), b2 = await fused.prefill([more], b.state);
    assertClose(b2.logits, a2.logits, 1e-5, `${what} chunked prefill logits`);
    let sa = a2.state, sb = b2.state;
    for (const id of [3, 1, 4, 1, 5]) {
      const da = await ref.decode([id], sa), db = await fused.decode([id], sb);
      assertClose(db.logits, da.logits, 1e-5, `${what} decode logits`);
      sa = da.state;
      sb = db.state;
    }
    assert.deepEqual(
      await fused.generate(ids.slice(0, 5), { maxNewTokens: 16 }),
      await ref.generate(ids.slice(0, 5), { maxNewTokens: 16 }),
    );
  } finally {
    await ref.close();
    await fused.close();
  }
}

Deno.test("fused mixers: the embedded Mamba's logits and states equal the Scan graphs'", async () => {
  await compare(EMBEDDED_MODEL, "embedded");
});

Deno.test("fused mixers: the tiny Jamba's logits and states (attention caches too) equal", async () => {
  await compare("tests/fixtures/jamba_tiny", "jamba_tiny");
});
