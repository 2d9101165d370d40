/**
 * Run options, session options and execution provider options as far as the CPU reaches:
 * config entries set and read back through onnxruntime, the terminate flag, profiling and the
 * optimised model file, option parsing, and providers onnxruntime refuses with its own message.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import {
  appendGeneric,
  availableProviders,
  createSessionOptions,
  cudaProviderOptions,
  MemoryInfo,
  OrtError,
  RUN_CONFIG,
  RunOptions,
  Session,
  sessionConfigEntry,
  Tensor,
  webgpuProviderOptions,
} from "../lib/ort/mod.ts";
import { opTimes } from "../lib/bench/profile.ts";
import { KitError } from "../lib/errors.ts";
import { createSession, providersOf } from "../lib/runtime.ts";
import { addGraph, writeGraph } from "./helpers/ort_graphs.ts";

const path = await writeGraph(addGraph());
const feeds = () => ({
  a: new Tensor("float32", Float32Array.of(1, 2)),
  b: new Tensor("float32", Float32Array.of(3, 4)),
});

Deno.test("ort run options: config entries, tag and log level reach onnxruntime", async () => {
  const ro = new RunOptions({
    tag: "decode-step",
    logLevel: "error",
    config: { [RUN_CONFIG.gpuGraphId]: "1" },
  });
  assert.equal(ro.configEntry("gpu_graph_id"), "1");
  ro.set("gpu_graph_id", "2");
  assert.equal(ro.configEntry("gpu_graph_id"), "2");
  assert.equal(ro.configEntry("no.such.key"), undefined);
  assert.equal(ro.tag, "decode-step");
  const s = await Session.create(path);
  assert.deepEqual((await s.run(feeds(), undefined, ro)).y.data, Float32Array.of(4, 6));
  ro.close();
  ro.close(); // harmless
  assert.throws(() => ro.configEntry("gpu_graph_id"), /OrtRunOptions used after it was closed/);
  await s.release();
});

Deno.test("ort run options: the terminate flag stops runs with onnxruntime's error", async () => {
  const s = await Session.create(path);
  const ro = new RunOptions();
  ro.terminate();
  await assert.rejects(
    s.run(feeds(), undefined, ro),
    (e: unknown) => e instanceof OrtError && /terminate/i.test(e.ortMessage),
  );
  ro.unsetTerminate();
  assert.deepEqual((await s.run(feeds(), undefined, ro)).y.data, Float32Array.of(4, 6));
  ro.close();
  await s.release();
});

Deno.test("ort session options: config entries and free dimensions are set in onnxruntime", () => {
  const so = createSessionOptions({
    config: { "session.qdq_matmulnbits_accuracy_level": "1", "session.disable_prepacking": "1" },
    freeDimensions: { n: 2 },
    intraOpThreads: 1,
  });
  assert.equal(sessionConfigEntry(so, "session.qdq_matmulnbits_accuracy_level"), "1");
  assert.equal(sessionConfigEntry(so, "session.disable_prepacking"), "1");
  assert.equal(sessionConfigEntry(so, "session.not_set"), undefined);
  so.close();
  assert.throws(
    () => createSessionOptions({ optimization: "most" as never }),
    /unknown graph optimization level/,
  );
  assert.throws(
    () => createSessionOptions({ intraOpThreads: -2 }),
    /intraOpThreads must be a non-negative integer/,
  );
});

Deno.test("ort session options: WebGPU options become ep.webgpuexecutionprovider.* entries", () => {
  // onnxruntime stores a provider's options as session config entries before creating it;
  // whether this build has the WebGPU EP decides whether the append itself succeeds
  let so;
  try {
    so = createSessionOptions({
      providers: [{
        name: "webgpu",
        options: { enableGraphCapture: true, validationMode: "basic" },
      }],
    });
  } catch (e) {
    assert.ok(e instanceof OrtError, String(e));
    assert.match(e.ortMessage, /WebGPU/);
    return;
  }
  assert.equal(sessionConfigEntry(so, "ep.webgpuexecutionprovider.validationMode"), "basic");
  assert.equal(sessionConfigEntry(so, "ep.webgpuexecutionprovider.enableGraphCapture"), "1");
  so.close();
});

Deno.test("ort providers: option parsing, and what onnxruntime says about unknown ones", () => {
  assert.deepEqual(cudaProviderOptions(), { device_id: "0", use_tf32: "0" });
  assert.deepEqual(
    cudaProviderOptions({
      deviceId: 1,
      enableCudaGraph: true,
      useTf32: true,
      extra: { cudnn_conv_algo_search: "HEURISTIC" },
    }),
    { device_id: "1", use_tf32: "1", enable_cuda_graph: "1", cudnn_conv_algo_search: "HEURISTIC" },
  );
  assert.throws(
    () => cudaProviderOptions({ deviceId: -1 }),
    /CUDA deviceId must be a non-negative integer/,
  );
  assert.deepEqual(webgpuProviderOptions(), { validationMode: "disabled" });
  assert.throws(
    () => webgpuProviderOptions({ validationMode: "none" as never }),
    /validationMode 'none' is not one of/,
  );
  assert.throws(
    () => webgpuProviderOptions({ extra: { storageBufferCacheMode: "" } }),
    /needs a non-empty string/,
  );
  assert.ok(availableProviders().includes("CPUExecutionProvider"));
  // a provider onnxruntime does not know, through its generic entry point: its own message
  const so = createSessionOptions();
  assert.throws(
    () => appendGeneric(so.ptr, "NoSuchProvider", { some_option: "1" }),
    (e: unknown) => {
      assert.ok(e instanceof OrtError);
      assert.match(e.ortMessage, /Unknown provider name 'NoSuchProvider'/);
      assert.equal(e.codeName, "ORT_INVALID_ARGUMENT");
      return true;
    },
  );
  so.close();
});

Deno.test("ort providers: a provider this machine cannot create is onnxruntime's error", async () => {
  // the CUDA provider's libraries are not installed here (the GPU machine has them):
  // onnxruntime says which one it could not load when the V2 options are filled in
  await assert.rejects(
    Session.create(path, { providers: [{ name: "cuda", options: { enableCudaGraph: true } }] }),
    (e: unknown) =>
      e instanceof OrtError && /UpdateCUDAProviderOptions/.test(e.message) &&
      /libonnxruntime_providers_(shared|cuda)\.so/.test(e.ortMessage),
  );
  // and memory infos name onnxruntime's allocators (it reports WebGPU_Buffer as WebGPU_Buf)
  for (
    const [device, name] of [["cpu", "Cpu"], ["cuda", "Cuda"], ["webgpu", "WebGPU_Buf"]] as const
  ) {
    const m = MemoryInfo.of(device);
    assert.equal(m.name, name);
    m.close();
  }
  assert.throws(() => MemoryInfo.named("NoSuchDevice"), (e: unknown) => e instanceof OrtError);
});

Deno.test("ort session options: profiling writes a trace lib/bench/profile.ts reads; the optimised model is written", async () => {
  const dir = dirname(path);
  const s = await Session.create(path, {
    profileFilePrefix: join(dir, "trace"),
    optimizedModelFilePath: join(dir, "optimized.onnx"),
  });
  for (let i = 0; i < 3; i++) await s.run(feeds());
  const file = s.endProfiling();
  assert.ok(file.startsWith(join(dir, "trace")), file);
  const { ops } = opTimes(JSON.parse(await Deno.readTextFile(file)));
  assert.equal(ops.find((o) => o.op === "Add")?.calls, 3);
  assert.ok((await Deno.stat(join(dir, "optimized.onnx"))).size > 0);
  await s.release();
});

Deno.test("runtime: providers with the kit's defaults; a missing CUDA provider says how to get it", async () => {
  assert.deepEqual(providersOf("cpu"), []);
  assert.deepEqual(providersOf("cuda", { cuda: { enableCudaGraph: true } }), [
    { name: "cuda", options: { useTf32: false, enableCudaGraph: true } },
  ]);
  const [webgpu] = providersOf("webgpu", {
    webgpu: { enableGraphCapture: "1", storageBufferCacheMode: "bucket" },
  });
  assert.deepEqual(webgpu, {
    name: "webgpu",
    options: {
      validationMode: "disabled",
      enableGraphCapture: true,
      deviceId: undefined,
      extra: { storageBufferCacheMode: "bucket" },
    },
  });
  await assert.rejects(createSession(path, "cuda"), (e: unknown) => {
    assert.ok(e instanceof KitError);
    assert.match(e.message, /the CUDA execution provider is not available/);
    assert.match(
      e.message,
      /libonnxruntime_providers_(shared|cuda)\.so/,
      "onnxruntime's own words",
    );
    assert.match(e.message, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
    return true;
  });
});
