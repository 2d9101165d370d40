/**
 * Writing ONNX models to a folder: graph files plus one shared external-data file for the
 * weights, written one tensor at a time, and the folder replaced atomically.
 */
import { join } from "node:path";
import { removeStaleTempsBeside, tempPath, track, untrack } from "../temp.ts";
import { type Graph, onnx } from "./builder.ts";

/** ONNX IR version written (onnxruntime accepts <= 13). */
export const IR_VERSION = 10;
/**
 * Default-domain opset the kit's graphs use. (With 21, onnxruntime 1.30's transpose optimizer
 * builds QuantizeLinear nodes whose output_dtype disagrees with their int8 zero point.)
 */
export const OPSET = 19;

export interface WriteOptions {
  /** Name of the shared weights file. Default `weights.bin`. */
  weightsFile?: string;
  /** Initializers smaller than this many bytes stay inline in the graph. Default 1024. */
  inlineBelow?: number;
  /** Model metadata (`metadata_props`). */
  metadata?: Record<string, string>;
  /** Extra files to write into the folder (name → text or bytes). */
  files?: Record<string, string | Uint8Array>;
}

/**
 * Writes `graphs` (file name → graph) into `dir`. Initializers with the same name in several
 * graphs are stored once (small ones stay inline, per graph). The folder appears whole or not at
 * all: it is built beside `dir` and renamed into place. A previous `dir` is replaced: callers
 * check first that it is theirs to replace (lib/output.ts). Temporary folders that dead processes
 * left beside `dir` are removed first (lib/temp.ts).
 *
 * @example
 * ```ts
 * await writeModelFolder("/tmp/m", { "prefill.onnx": prefill, "decode.onnx": decode });
 * ```
 */
export async function writeModelFolder(
  dir: string,
  graphs: Record<string, Graph>,
  options: WriteOptions = {},
): Promise<void> {
  const weightsFile = options.weightsFile ?? "weights.bin";
  const inlineBelow = options.inlineBelow ?? 1024;
  await removeStaleTempsBeside(dir);
  const tmp = tempPath(dir);
  track(tmp);
  await Deno.mkdir(tmp, { recursive: true });
  try {
    const external = new Map<string, { location: string; offset: number }>();
    const inline = new Map<Graph, Map<string, Uint8Array>>();
    const seen = new Map<string, string>();
    using out = await Deno.open(join(tmp, weightsFile), { write: true, create: true });
    let offset = 0;
    for (const g of Object.values(graphs)) {
      const own = new Map<string, Uint8Array>();
      inline.set(g, own);
      for (const t of g.initializers.values()) {
        if (t.byteLength < inlineBelow) {
          own.set(t.name, await t.data());
          continue;
        }
        const sig = `${t.dtype}[${t.dims}]`;
        const prev = seen.get(t.name);
        if (prev !== undefined) {
          if (prev !== sig) throw new Error(`initializer '${t.name}' is ${prev} and ${sig}`);
          continue;
        }
        seen.set(t.name, sig);
        const align = t.byteLength >= 65536 ? 4096 : 64;
        const pad = (align - (offset % align)) % align;
        if (pad) await writeAll(out, new Uint8Array(pad));
        offset += pad;
        const bytes = await t.data();
        if (bytes.byteLength !== t.byteLength) {
          throw new Error(
            `initializer '${t.name}': ${bytes.byteLength} bytes, expected ${t.byteLength}`,
          );
        }
        await writeAll(out, bytes);
        external.set(t.name, { location: weightsFile, offset });
        offset += bytes.byteLength;
      }
    }
    const metadataProps = Object.entries(options.metadata ?? {}).map(([key, value]) => ({
      key,
      value,
    }));
    for (const [file, g] of Object.entries(graphs)) {
      const model = onnx.ModelProto.create({
        irVersion: IR_VERSION,
        opsetImport: [{ domain: "", version: OPSET }, { domain: "com.microsoft", version: 1 }],
        producerName: "quamba-kit",
        graph: g.toProto(external, inline.get(g)),
        metadataProps,
      });
      await Deno.writeFile(join(tmp, file), onnx.ModelProto.encode(model).finish());
    }
    for (const [file, data] of Object.entries(options.files ?? {})) {
      if (typeof data === "string") await Deno.writeTextFile(join(tmp, file), data);
      else await Deno.writeFile(join(tmp, file), data);
    }
    await replaceDir(tmp, dir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  } finally {
    untrack(tmp);
  }
}

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) done += await f.write(bytes.subarray(done));
}

/** Moves `src` to `dst`, replacing a previous `dst` with no moment where neither exists whole. */
export async function replaceDir(src: string, dst: string): Promise<void> {
  const old = tempPath(dst, "old");
  let moved = false;
  try {
    await Deno.rename(dst, old);
    moved = true;
  } catch { /* no previous folder */ }
  await Deno.rename(src, dst);
  if (moved) await Deno.remove(old, { recursive: true });
}
