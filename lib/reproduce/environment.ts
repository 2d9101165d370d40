/** The environment a run happened in, recorded beside its results. */
import { ortLibrary } from "../ort/mod.ts";
import { readProcFile } from "../proc_files.ts";
import { KIT_VERSION } from "../version.ts";

/**
 * Kit, Deno and onnxruntime versions, OS, CPU model, cores and SIMD flags.
 *
 * @example
 * ```ts
 * console.log(environment("cpu").cpu_flags); // ["avx2", "avx512f", "avx512_vnni"]
 * ```
 */
export function environment(ep: string): Record<string, unknown> {
  let model = "unknown", flags: string[] = [];
  const info = readProcFile("/proc/cpuinfo"); // (Deno lets tasks read /proc only through FFI)
  if (info !== undefined) {
    model = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? model;
    const all = new Set((/flags\s*:\s*(.*)/.exec(info)?.[1] ?? "").split(/\s+/));
    flags = ["avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8"].filter((f) =>
      all.has(f)
    );
  }
  return {
    kit_version: KIT_VERSION,
    deno: Deno.version.deno,
    onnxruntime_node: ortLibrary().version,
    ep,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    cpu: model,
    cores: navigator.hardwareConcurrency,
    cpu_flags: flags,
    created: new Date().toISOString(),
  };
}
