/**
 * The library and the function table: found in the installed onnxruntime-node package (or
 * `$QUAMBA_ORT_LIB`), its version string, the API version asked for, and slots checked by
 * calling functions whose answers are known.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  apiVersionOf,
  locateLibrary,
  ort,
  ORT_API,
  ortLibrary,
  REQUIRED_API_VERSION,
  RunOptions,
} from "../lib/ort/mod.ts";

Deno.test("ort library: the onnxruntime-node package's library, its version and API version", () => {
  const lib = ortLibrary();
  assert.ok(lib.packageDir, "found through the onnxruntime-node package");
  const pkg = JSON.parse(Deno.readTextFileSync(join(lib.packageDir!, "package.json")));
  assert.equal(pkg.name, "onnxruntime-node");
  assert.equal(lib.version, pkg.version, "GetVersionString is the package's version");
  assert.match(lib.path, /libonnxruntime\.so\.1$|onnxruntime\.dll$|libonnxruntime\.dylib$/);
  const minor = Number(lib.version.split(".")[1]);
  assert.equal(lib.apiVersion, minor, "the highest API version: the library's minor version");
  assert.ok(lib.apiVersion >= REQUIRED_API_VERSION);
});

Deno.test("ort library: slots and versions of the table", () => {
  assert.equal(ORT_API.CreateEnv.index, 3);
  assert.equal(ORT_API.CreateSession.index, 7);
  assert.equal(ORT_API.Run.index, 9);
  assert.equal(ORT_API.ReleaseSession.index, 95);
  assert.equal(ORT_API.SessionOptionsAppendExecutionProvider_CUDA_V2.index, 204);
  assert.equal(apiVersionOf(ORT_API.ReleaseStatus.index), 1);
  assert.equal(apiVersionOf(ORT_API.AddSessionConfigEntry.index), 5);
  assert.equal(apiVersionOf(ORT_API.CreatePrepackedWeightsContainer.index), 8);
  assert.equal(apiVersionOf(ORT_API.SessionOptionsAppendExecutionProvider_CUDA_V2.index), 11);
  assert.equal(apiVersionOf(ORT_API.SessionOptionsAppendExecutionProvider.index), 12);
  assert.equal(apiVersionOf(ORT_API.GetBuildInfoString.index), 15);
  assert.equal(apiVersionOf(ORT_API.CopyTensors.index), 23);
  assert.equal(REQUIRED_API_VERSION, 23, "the kit uses nothing newer than API 23");
  assert.throws(() => apiVersionOf(100000), RangeError);
});

Deno.test("ort library: functions answer as their slots say", () => {
  // GetBuildInfoString (slot 254): a string, not a status
  const info = Deno.UnsafePointerView.getCString(ort().GetBuildInfoString()!);
  assert.match(info, /ORT Build Info/);
  assert.match(info, /git-commit-id=\w+.*build type=/);
  // AddRunConfigEntry (165) and GetRunConfigEntry (373) agree with each other
  const ro = new RunOptions({ config: { "test.key": "value 42" } });
  assert.equal(ro.configEntry("test.key"), "value 42");
  ro.close();
});

Deno.test("ort library: $QUAMBA_ORT_LIB overrides the package's library, or says what is wrong", async () => {
  const script = `import { locateLibrary } from "${import.meta.resolve("../lib/ort/library.ts")}";
try { console.log(JSON.stringify(locateLibrary())); } catch (e) { console.log("ERR " + e.message); }`;
  const run = async (lib: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--config", join(import.meta.dirname!, "..", "deno.json"), script],
      env: { QUAMBA_ORT_LIB: lib },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout).trim();
  };
  const real = locateLibrary().path;
  assert.deepEqual(JSON.parse(await run(real)), { path: real });
  assert.match(
    await run("/no/such/libonnxruntime.so"),
    /^ERR \$QUAMBA_ORT_LIB=\/no\/such\/libonnxruntime\.so: no such file/,
  );
});
