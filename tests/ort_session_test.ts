/**
 * The binding's sessions on tiny graphs, against plain TypeScript arithmetic: results, names
 * and shapes (symbolic dims), fetches, blocking and non-blocking runs, sessions from bytes,
 * and errors that carry onnxruntime's message.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Graph } from "../lib/onnx/builder.ts";
import { KitError } from "../lib/errors.ts";
import { LONG_RUN_MS, OrtError, OrtValue, Session, Tensor } from "../lib/ort/mod.ts";
import { assertClose } from "./helpers/assert.ts";
import {
  addGraph,
  linear,
  linearStepGraph,
  seeded,
  writeGraph,
  writeGraphs,
} from "./helpers/ort_graphs.ts";

const f32 = (xs: number[]) => new Tensor("float32", Float32Array.from(xs));

Deno.test("ort session: Add of two vectors equals TypeScript's sum, blocking and not", async () => {
  const path = await writeGraph(addGraph());
  for (const nonblocking of [false, true]) {
    const s = await Session.create(path, { nonblocking });
    const a = seeded(1000, 1), b = seeded(1000, 2);
    const out = await s.run({ a: new Tensor("float32", a), b: new Tensor("float32", b) });
    assert.deepEqual(out.y.dims, [1000]);
    assert.equal(out.y.type, "float32");
    assert.deepEqual(out.y.data, a.map((x, i) => x + b[i]));
    await s.release();
  }
});

Deno.test("ort session: MatMul with a stored weight equals TypeScript's product", async () => {
  const inp = 24, out = 10, rows = 5;
  const w = seeded(out * inp, 3), bias = seeded(out, 4);
  const path = await writeGraph(linearStepGraph(w, bias, inp, out));
  const s = await Session.create(path);
  const x = seeded(rows * inp, 5), state = seeded(rows * out, 6);
  const r = await s.run({
    x: new Tensor("float32", x, [rows, inp]),
    state: new Tensor("float32", state, [rows, out]),
  });
  const want = linear(x, w, bias, inp, out);
  assertClose(r.y.data as Float32Array, want, 1e-6, "y");
  assertClose(r.state_out.data as Float32Array, want.map((v, i) => v + state[i]), 1e-6, "state");
  await s.release();
});

Deno.test("ort session: input and output names, element types and symbolic dims", async () => {
  const s = await Session.create(
    await writeGraph(linearStepGraph(seeded(6, 1), seeded(3, 2), 2, 3)),
  );
  assert.deepEqual(s.inputNames, ["x", "state"]);
  assert.deepEqual(s.outputNames, ["y", "state_out"]);
  assert.deepEqual(s.inputs, [
    { name: "x", type: "float32", dims: ["rows", 2] },
    { name: "state", type: "float32", dims: ["rows", 3] },
  ]);
  assert.deepEqual(s.outputs[1], { name: "state_out", type: "float32", dims: ["rows", 3] });
  await s.release();
});

Deno.test("ort session: fetches choose the outputs computed and returned", async () => {
  const s = await Session.create(
    await writeGraph(linearStepGraph(seeded(6, 1), seeded(3, 2), 2, 3)),
  );
  const feeds = {
    x: new Tensor("float32", Float32Array.of(1, 2), [1, 2]),
    state: new Tensor("float32", Float32Array.of(1, 1, 1), [1, 3]),
  };
  const both = await s.run(feeds);
  const one = await s.run(feeds, ["state_out"]);
  assert.deepEqual(Object.keys(one), ["state_out"]);
  assert.deepEqual(one.state_out.data, both.state_out.data);
  await assert.rejects(
    s.run(feeds, ["nope"]),
    (e: unknown) => e instanceof OrtError && /nope/.test(e.ortMessage),
  );
  await s.release();
});

Deno.test("ort session: a session from bytes equals one from the file", async () => {
  const path = await writeGraph(addGraph());
  const fromBytes = await Session.create(await Deno.readFile(path), { label: "add (bytes)" });
  const fromFile = await Session.create(path);
  const feeds = { a: f32([1, 2, 3]), b: f32([0.5, 0.25, 0.125]) };
  assert.deepEqual((await fromBytes.run(feeds)).y.data, (await fromFile.run(feeds)).y.data);
  await fromBytes.release();
  await fromFile.release();
});

Deno.test("ort session: a wrong shape is an OrtError with onnxruntime's message", async () => {
  const s = await Session.create(
    await writeGraph(linearStepGraph(seeded(6, 1), seeded(3, 2), 2, 3)),
  );
  const bad = {
    x: new Tensor("float32", new Float32Array(3), [1, 3]),
    state: new Tensor("float32", new Float32Array(3), [1, 3]),
  };
  await assert.rejects(s.run(bad), (e: unknown) => {
    assert.ok(e instanceof OrtError && e instanceof KitError);
    assert.match(e.ortMessage, /Got invalid dimensions for input: x/);
    assert.equal(e.codeName, "ORT_INVALID_ARGUMENT");
    assert.match(e.message, /onnxruntime Run\(.*model\.onnx\): Got invalid dimensions/);
    return true;
  });
  // an unknown input name, and a missing one, are onnxruntime's errors too
  const good = { ...bad, x: new Tensor("float32", new Float32Array(2), [1, 2]) };
  await assert.rejects(s.run({ ...good, nope: f32([1]) }), /onnxruntime Run.*nope/);
  await assert.rejects(s.run({ x: good.x }), /onnxruntime Run.*state/);
  await s.release();
});

Deno.test("ort session: a malformed model is an OrtError with onnxruntime's message", async () => {
  await assert.rejects(
    Session.create(new TextEncoder().encode("this is not a protobuf"), { label: "garbage" }),
    (e: unknown) =>
      e instanceof OrtError && /CreateSession\(garbage\)/.test(e.message) && e.code > 0,
  );
  const dir = await Deno.makeTempDir();
  await assert.rejects(Session.create(join(dir, "missing.onnx")), (e: unknown) => {
    assert.ok(e instanceof OrtError);
    assert.match(e.ortMessage, /missing\.onnx/);
    return true;
  });
  // a graph whose node has an unknown operator
  const g = new Graph("bad");
  const x = g.input("x", "float32", [2]);
  g.output(g.op("NoSuchOperator", [x]), "float32", [2], "y");
  await assert.rejects(
    Session.create(await writeGraph(g)),
    /onnxruntime CreateSession.*NoSuchOperator/,
  );
});

Deno.test("ort session: release is idempotent; a released session is a clear KitError", async () => {
  const s = await Session.create(await writeGraph(addGraph()));
  await s.release();
  await s.release();
  assert.ok(s.released);
  await assert.rejects(s.run({ a: f32([1]), b: f32([1]) }), (e: unknown) => {
    assert.ok(e instanceof KitError);
    assert.match(e.message, /OrtSession\(.*model\.onnx\) used after it was closed/);
    return true;
  });
});

Deno.test("ort session: feeds must be Tensors; tensors check their data", async () => {
  const s = await Session.create(await writeGraph(addGraph()));
  await assert.rejects(
    s.run({ a: f32([1]), b: new Float32Array(1) as unknown as Tensor }),
    /feed 'b' is not a Tensor/,
  );
  assert.throws(() => new Tensor("float32", new Float32Array(5), [2, 2]), /needs 4 values, got 5/);
  assert.throws(() => new Tensor("int64", new Float32Array(1) as never), /needs a BigInt64Array/);
  await s.release();
});

Deno.test("ort session: a model folder with external weights loads (the kit's layout)", async () => {
  const inp = 300, out = 200; // 240 kB of weights: stored in weights.bin, not inline
  const w = seeded(out * inp, 7), bias = seeded(out, 8);
  const dir = await writeGraphs({ "a.onnx": linearStepGraph(w, bias, inp, out) });
  assert.ok((await Deno.stat(join(dir, "weights.bin"))).size >= w.byteLength);
  const s = await Session.create(join(dir, "a.onnx"));
  const x = seeded(inp, 9);
  const r = await s.run({
    x: new Tensor("float32", x, [1, inp]),
    state: new Tensor("float32", new Float32Array(out), [1, out]),
  });
  assertClose(r.y.data as Float32Array, linear(x, w, bias, inp, out), 1e-5, "y");
  await s.release();
});

Deno.test("ort session: release waits for a run in flight; closed values are clear errors", async () => {
  const s = await Session.create(await writeGraph(addGraph()), { nonblocking: true });
  const a = seeded(100_000, 1), b = seeded(100_000, 2);
  const running = s.run({ a: new Tensor("float32", a), b: new Tensor("float32", b) });
  await s.release(); // the run started before: it finishes, then the session goes
  assert.deepEqual((await running).y.data, a.map((x, i) => x + b[i]));
  const v = OrtValue.fromHost("float32", Float32Array.of(1, 2), [2]);
  v.close();
  v.close();
  assert.throws(() => v.typeAndShape(), /OrtValue\(float32\[2\]\) used after it was closed/);
  const t = new Tensor("float32", Float32Array.of(1));
  t.dispose();
  assert.deepEqual(t.data, Float32Array.of(1), "a host tensor keeps its data after dispose()");
});

Deno.test("ort session: nonblocking 'auto' goes off-thread after a long run only", async () => {
  const path = await writeGraph(addGraph());
  const auto = await Session.create(path);
  assert.equal(auto.calls.mode, "auto");
  assert.equal(auto.calls.offThread, false, "a first run stays on the calling thread");
  auto.calls.record(LONG_RUN_MS + 1);
  assert.equal(auto.calls.offThread, true);
  await auto.run({ a: f32([1]), b: f32([2]) }); // a short run: the next one stays here
  assert.equal(auto.calls.offThread, false);
  const on = await Session.create(path, { nonblocking: true });
  const off = await Session.create(path, { nonblocking: false });
  on.calls.record(0);
  off.calls.record(1e6);
  assert.deepEqual([on.calls.offThread, off.calls.offThread], [true, false]);
  for (const s of [auto, on, off]) await s.release();
});
