/**
 * IO binding on the CPU: inputs and outputs bound once, preallocated outputs written in place
 * and reused across runs, two state buffer sets swapped between steps (as a generation loop
 * does), outputs bound to a device's memory and read back, and tensors allocated by a
 * session's allocator.
 */
import assert from "node:assert/strict";
import { MemoryInfo, OrtValue, Session, Tensor } from "../lib/ort/mod.ts";
import { assertClose } from "./helpers/assert.ts";
import { linear, linearStepGraph, seeded, writeGraph } from "./helpers/ort_graphs.ts";

const inp = 16, out = 8;
const w = seeded(out * inp, 11), bias = seeded(out, 12);
const path = await writeGraph(linearStepGraph(w, bias, inp, out));

Deno.test("ort io binding: a preallocated output is written in place, run after run", async () => {
  const s = await Session.create(path);
  const b = s.ioBinding();
  const x = new Float32Array(inp), state = new Float32Array(out);
  const y = new Float32Array(out), next = new Float32Array(out);
  b.bindInput("x", new Tensor("float32", x, [1, inp]))
    .bindInput("state", new Tensor("float32", state, [1, out]))
    .bindOutput("y", new Tensor("float32", y, [1, out]))
    .bindOutput("state_out", new Tensor("float32", next, [1, out]));
  for (let step = 0; step < 3; step++) {
    x.set(seeded(inp, 100 + step)); // same buffers, new contents: nothing rebound
    await b.run();
    const want = linear(x, w, bias, inp, out);
    assertClose(y, want, 1e-6, `y, step ${step}`);
    assertClose(next, want.map((v, i) => v + state[i]), 1e-6, `state, step ${step}`);
  }
  b.close();
  await s.release();
});

Deno.test("ort io binding: two state buffer sets swapped between steps (A→B, B→A)", async () => {
  const s = await Session.create(path, { nonblocking: true });
  const x = new Float32Array(inp);
  const xs = new Tensor("float32", x, [1, inp]);
  const bufs = [new Float32Array(out), new Float32Array(out)];
  const tensors = bufs.map((d) => new Tensor("float32", d, [1, out]));
  const y = new Tensor("float32", new Float32Array(out), [1, out]);
  // one binding per direction, bound once
  const ab = s.ioBinding().bindInput("x", xs).bindInput("state", tensors[0])
    .bindOutput("state_out", tensors[1]).bindOutput("y", y);
  const ba = s.ioBinding().bindInput("x", xs).bindInput("state", tensors[1])
    .bindOutput("state_out", tensors[0]).bindOutput("y", y);
  let ref = new Float32Array(out);
  for (let step = 0; step < 6; step++) {
    x.set(seeded(inp, 200 + step));
    await (step % 2 === 0 ? ab : ba).run();
    ref = ref.map((v, i) => v + linear(x, w, bias, inp, out)[i]);
    assertClose(bufs[(step + 1) % 2], ref, 1e-5, `state after step ${step}`);
  }
  ab.close();
  ba.close();
  await s.release();
});

Deno.test("ort io binding: outputs bound to a device's memory come back from outputs()", async () => {
  const s = await Session.create(path);
  const b = s.ioBinding();
  const x = seeded(2 * inp, 21);
  b.bindInput("x", new Tensor("float32", x, [2, inp]));
  b.bindInput("state", new Tensor("float32", new Float32Array(2 * out), [2, out]));
  b.bindOutputToDevice("y", "cpu").bindOutputToDevice("state_out", MemoryInfo.of("cpu"));
  await b.run();
  assert.deepEqual(b.outputNames, ["y", "state_out"]);
  const [y, st] = b.outputs();
  assert.deepEqual(y.dims, [2, out]);
  assert.equal(y.location, "cpu");
  assertClose(y.data as Float32Array, linear(x, w, bias, inp, out), 1e-6, "y");
  assert.deepEqual(st.data, y.data);
  b.synchronizeInputs();
  b.synchronizeOutputs();
  b.clearOutputs();
  assert.deepEqual(b.outputs(), []);
  await assert.rejects(b.run(), /no output is bound/);
  b.close();
  await s.release();
});

Deno.test("ort io binding: a tensor from the session's allocator is written and read back", async () => {
  const s = await Session.create(path);
  const alloc = s.allocator("cpu");
  const v = OrtValue.allocate(alloc, "float32", [1, out]);
  assert.deepEqual(v.typeAndShape(), { type: "float32", dims: [1, out] });
  assert.equal(v.device(), "cpu");
  const x = seeded(inp, 31);
  const b = s.ioBinding()
    .bindInput("x", new Tensor("float32", x, [1, inp]))
    .bindInput("state", new Tensor("float32", new Float32Array(out), [1, out]))
    .bindOutput("y", v);
  await b.run();
  const back = v.copyToHost();
  assert.deepEqual(back.dims, [1, out]);
  assertClose(back.data as Float32Array, linear(x, w, bias, inp, out), 1e-6, "y");
  b.close();
  v.close();
  alloc.close();
  await s.release();
});

Deno.test("ort io binding: runs with output locations go through the binding, same results", async () => {
  // the path that keeps states on a GPU ("gpu-buffer"), with every output on the host here
  const bound = await Session.create(path, { outputLocation: { state_out: "cpu" } });
  const plain = await Session.create(path);
  for (let step = 0; step < 3; step++) {
    const feeds = {
      x: new Tensor("float32", seeded(2 * inp, 40 + step), [2, inp]),
      state: new Tensor("float32", seeded(2 * out, 50 + step), [2, out]),
    };
    const a = await bound.run(feeds), b = await plain.run(feeds);
    assert.deepEqual(Object.keys(a), ["y", "state_out"]);
    assert.deepEqual(a.y.data, b.y.data);
    assert.deepEqual(a.state_out.data, b.state_out.data);
    assert.deepEqual(Object.keys(await bound.run(feeds, ["y"])), ["y"]);
  }
  await bound.release();
  await plain.release();
});

Deno.test("ort io binding: outputLocation 'gpu-buffer' is refused on a CPU session", async () => {
  await assert.rejects(
    Session.create(path, { outputLocation: { state_out: "gpu-buffer" } }),
    /output 'state_out' cannot stay on a GPU: the session runs on the CPU/,
  );
  await assert.rejects(
    Session.create(path, { outputLocation: { nope: "cpu" } }),
    /outputLocation names 'nope', not an output/,
  );
});
