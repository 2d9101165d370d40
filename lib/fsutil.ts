/** File writing that never leaves half a file behind. */
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { tempPath, track, untrack } from "./temp.ts";

/**
 * Writes `data` to `path` through a temporary file in the same folder and a rename, so that a
 * reader (or a run killed half-way) sees the old file or the new one, never a mixture.
 *
 * @example
 * ```ts
 * await writeFileAtomic("out/results.json", JSON.stringify({ ok: true }));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  track(tmp);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  } finally {
    untrack(tmp);
  }
}

/** Whether `path` exists (file or folder). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** `a` is `b` or lies inside it (after resolving `.` and `..`; links are not followed). */
export function isWithin(a: string, b: string): boolean {
  const r = relative(resolve(b), resolve(a));
  return r === "" || (r !== ".." && !r.startsWith(`..${sep}`) && !isAbsolute(r));
}

/**
 * `path`'s bytes, else those of `path.gz` decompressed (the kit ships some data gzipped); throws
 * `path`'s error (NotFound, ...) when neither can be read.
 *
 * @example
 * ```ts
 * const text = new TextDecoder().decode(await readMaybeGzipped("data/tasks/piqa/valid.jsonl"));
 * ```
 */
export async function readMaybeGzipped(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    let gz: Uint8Array<ArrayBuffer>;
    try {
      gz = await Deno.readFile(`${path}.gz`);
    } catch {
      throw e;
    }
    const stream = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
}
