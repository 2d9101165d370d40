/**
 * Native memory: sessions opened and closed many times without growth, the FinalizationRegistry
 * releasing what was not closed, telemetry kept off (nothing under a fresh HOME's
 * ~/.cache/Microsoft), and a model's two sessions sharing their weights: same outputs, lower
 * peak resident memory than two sessions loading their own.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Graph } from "../lib/onnx/builder.ts";
import { Tensor } from "../lib/ort/mod.ts";
import { createModelSessions } from "../lib/runtime.ts";
import { linearStepGraph, seeded, writeGraph, writeGraphs } from "./helpers/ort_graphs.ts";

const CONFIG = join(import.meta.dirname!, "..", "deno.json");

/** Runs `code` (a module body; `ROOT` is the repository's file URL) in a fresh Deno process. */
async function child(
  code: string,
  options: { env?: Record<string, string>; clearEnv?: boolean; v8?: string; mayFail?: boolean } =
    {},
) {
  const root = new URL("..", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--config",
      CONFIG,
      ...(options.v8 ? [`--v8-flags=${options.v8}`] : []),
      `const ROOT = ${JSON.stringify(root)};\n${code}`,
    ],
    env: options.env,
    clearEnv: options.clearEnv,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  const err = new TextDecoder().decode(out.stderr).slice(-2000);
  assert.ok(
    out.success || options.mayFail,
    `child failed (${out.code} ${out.signal ?? ""}): ${err}`,
  );
  return text;
}

Deno.test("ort memory: 200 sessions opened, run and released without resident growth", async () => {
  const inp = 512, out = 512; // 1 MB of weights per session: a leak would show
  const path = await writeGraph(linearStepGraph(seeded(out * inp, 1), seeded(out, 2), inp, out));
  // in a fresh process that can collect garbage on demand (outputs are freed with their arrays)
  const text = await child(
    `const { Session, Tensor, liveHandles } = await import(ROOT + "lib/ort/mod.ts");
    const rss = () => Number(/VmRSS:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))[1]) * 1024;
    const settle = async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); } };
    const cycle = async () => {
      const s = await Session.create(${JSON.stringify(path)});
      const x = new Tensor("float32", new Float32Array(${inp}).fill(0.5), [1, ${inp}]);
      const st = new Tensor("float32", new Float32Array(${out}), [1, ${out}]);
      const r = await s.run({ x, state: st });
      if (r.y.data.length !== ${out}) throw new Error("bad output");
      x.dispose();
      st.dispose();
      await s.release();
    };
    for (let i = 0; i < 20; i++) await cycle(); // warm up allocators
    await settle();
    const before = rss(), handles = liveHandles();
    for (let i = 0; i < 200; i++) await cycle();
    await settle();
    console.log(JSON.stringify({ growth: rss() - before, handles: liveHandles() - handles }));`,
    { v8: "--expose-gc" },
  );
  const { growth, handles } = JSON.parse(text);
  assert.ok(
    growth < 24e6,
    `resident memory grew by ${(growth / 1e6).toFixed(1)} MB over 200 sessions`,
  );
  assert.equal(handles, 0, "every native object of the cycles was released");
});

Deno.test("ort memory: objects never closed are released by the FinalizationRegistry", async () => {
  const text = await child(
    `const { RunOptions, liveHandles } = await import(ROOT + "lib/ort/mod.ts");
    const base = liveHandles();
    (() => { for (let i = 0; i < 100; i++) new RunOptions({ tag: "x" + i }); })();
    const made = liveHandles() - base;
    for (let i = 0; i < 10 && liveHandles() > base; i++) {
      globalThis.gc(); await new Promise((r) => setTimeout(r, 20));
    }
    console.log(JSON.stringify({ made, left: liveHandles() - base }));`,
    { v8: "--expose-gc" },
  );
  assert.deepEqual(JSON.parse(text), { made: 100, left: 0 });
});

Deno.test("ort memory: telemetry stays off: nothing under a fresh HOME's ~/.cache/Microsoft", async () => {
  const path = await writeGraph(linearStepGraph(seeded(6, 1), seeded(3, 2), 2, 3));
  const run = async (code: string, mayFail = false) => {
    const home = await Deno.makeTempDir({ prefix: "quamba-home-" });
    // a clean environment: this process has set ORT_DISABLE_TELEMETRY for itself
    const env = {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: home,
      XDG_CACHE_HOME: join(home, ".cache"), // where onnxruntime puts its store when set
      DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME")!, ".cache", "deno"),
    };
    await child(code, { env, clearEnv: true, mayFail });
    try {
      return [...Deno.readDirSync(join(home, ".cache"))].map((e) => e.name);
    } catch {
      return [];
    }
  };
  // through the kit: a session created and run
  const kit = await run(
    `const { Session, Tensor } = await import(ROOT + "lib/ort/mod.ts");
    const s = await Session.create(${JSON.stringify(path)});
    await s.run({ x: new Tensor("float32", new Float32Array(2), [1, 2]), state: new Tensor("float32", new Float32Array(3), [1, 3]) });
    await s.release();`,
  );
  assert.ok(!kit.includes("Microsoft"), `the kit left ~/.cache/${kit.join(", ~/.cache/")}`);
  // the same library with an env made without the kit's switches does write there: the check
  // above would see it
  const raw = await run(
    `const { ortLibrary } = await import(ROOT + "lib/ort/library.ts");
    const table = new Deno.UnsafePointerView(ortLibrary().api);
    const slot = (i, parameters) => new Deno.UnsafeFnPointer(table.getPointer(i * 8), { parameters, result: "pointer" });
    const env = new BigUint64Array(1), so = new BigUint64Array(1), session = new BigUint64Array(1);
    slot(3, ["i32", "buffer", "buffer"]).call(2, new TextEncoder().encode("raw\\0"), env); // CreateEnv
    slot(10, ["buffer"]).call(so); // CreateSessionOptions
    slot(7, ["u64", "buffer", "u64", "buffer"]).call( // CreateSession
      env[0], new TextEncoder().encode(${JSON.stringify(path)} + "\\0"), so[0], session);
    const release = (i) => new Deno.UnsafeFnPointer(table.getPointer(i * 8), { parameters: ["u64"], result: "void" });
    release(95).call(session[0]); // ReleaseSession
    release(100).call(so[0]); // ReleaseSessionOptions`,
    true, // onnxruntime's telemetry teardown has crashed such a process at exit (not the kit's)
  );
  assert.ok(raw.includes("Microsoft"), "a plain env writes onnxruntime's telemetry store");
});

/** A prefill/decode pair over one weights.bin: `layers` projections of [d, d]. */
function pairGraphs(d: number, layers: number): Record<string, Graph> {
  const graphs: Record<string, Graph> = {};
  for (const name of ["prefill", "decode"]) {
    const g = new Graph(name);
    let x = g.input("x", "float32", [name === "prefill" ? "l" : 1, d]);
    for (let i = 0; i < layers; i++) {
      const w = seeded(d * d, 100 + i, 1 / Math.sqrt(d));
      g.init(`w${i}`, "float32", [d, d], () => new Uint8Array(w.buffer));
      x = g.op("Tanh", [g.op("MatMul", [x, g.op("Transpose", [`w${i}`], { perm: [1, 0] })])]);
    }
    g.output(x, "float32", undefined, "y");
    graphs[`${name}.onnx`] = g;
  }
  return graphs;
}

Deno.test("ort memory: a model's two sessions share their weights: same outputs, lower peak", async () => {
  const d = 2048, layers = 6; // 100 MB of float32 weights
  const dir = await writeGraphs(pairGraphs(d, layers));
  const tiny = await writeGraphs(pairGraphs(16, 1));
  const weights = (await Deno.stat(join(dir, "weights.bin"))).size;
  // same outputs, shared or not
  const x = new Tensor("float32", seeded(3 * d, 7), [3, d]);
  const x1 = new Tensor("float32", seeded(d, 8), [1, d]);
  const outputs = [];
  for (const shareWeights of [true, false]) {
    const { prefill, decode } = await createModelSessions(dir, "cpu", { shareWeights });
    outputs.push((await prefill.run({ x })).y.data, (await decode.run({ x: x1 })).y.data);
    await prefill.release();
    await decode.release();
  }
  assert.deepEqual(outputs[0], outputs[2], "prefill");
  assert.deepEqual(outputs[1], outputs[3], "decode");
  // peak resident memory of opening both and running each once, in fresh processes, less
  // that of the same for a model of almost no weights (onnxruntime's own pages and sessions)
  const peak = async (folder: string, rows: number, shareWeights: boolean) =>
    Number(
      await child(
        `const { createModelSessions, Tensor } = await import(ROOT + "lib/runtime.ts");
        const hwm = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))[1]) * 1024;
        const base = hwm();
        const { prefill, decode } = await createModelSessions(${
          JSON.stringify(folder)
        }, "cpu", { shareWeights: ${shareWeights} });
        await prefill.run({ x: new Tensor("float32", new Float32Array(8 * ${rows}), [8, ${rows}]) });
        await decode.run({ x: new Tensor("float32", new Float32Array(${rows}), [1, ${rows}]) });
        console.log(hwm() - base);`,
      ),
    );
  const overhead = await peak(tiny, 16, true);
  const shared = (await peak(dir, d, true) - overhead) / weights;
  const own = (await peak(dir, d, false) - overhead) / weights;
  const what = `shared ${shared.toFixed(2)}x the weights, each its own ${own.toFixed(2)}x`;
  assert.ok(own >= 1.8, `${what}: two sessions of their own hold two copies or more`);
  assert.ok(own - shared >= 0.8, `${what}: sharing saves most of a copy`);
  // about 1.3x here when the machine is idle: the packed weights, plus the largest weight packed
  // again while the second session finds it in the container; the mapping's pages are dropped
  // every 5 ms, which a loaded machine delays
  assert.ok(shared <= 1.8, `${what}: shared weights are resident about once`);
});
