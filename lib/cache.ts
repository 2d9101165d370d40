/**
 * Where built ONNX graphs are kept, keyed by what they were built from: the kit's graph version,
 * the config, and a fingerprint of every weight file (its header's hash, size, modification and
 * change times and inode: a weight changed in place, even with its modification time put back,
 * changes the key).
 */
import { basename, join, resolve } from "node:path";
import type { Checkpoint } from "./checkpoint.ts";
import { ensureWritableDir } from "./output.ts";

/** Bump when the graphs the kit builds change, so that old cached graphs are not reused. */
export const GRAPH_VERSION = "6";

/** The kit's cache root: `$QUAMBA_KIT_CACHE`, else `$XDG_CACHE_HOME/quamba-kit`, else `~/.cache/quamba-kit`. */
export function cacheRoot(): string {
  const env = Deno.env.get("QUAMBA_KIT_CACHE");
  if (env) return env;
  const xdg = Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? ".", ".cache");
  return join(xdg, "quamba-kit");
}

/**
 * Checks, before long work, that the cache folder can be written (creating it): a clear error
 * naming `$QUAMBA_KIT_CACHE` instead of a failure after the work.
 */
export async function checkCacheDir(root = cacheRoot()): Promise<string> {
  const from = Deno.env.get("QUAMBA_KIT_CACHE") ? "$QUAMBA_KIT_CACHE" : "the cache folder";
  return await ensureWritableDir(root, from);
}

/** Hex SHA-256 of a string. */
export async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A fingerprint of a checkpoint's weights: per weight file, its name, size, modification and
 * change times, inode and the SHA-256 of its safetensors header. (Not a hash of every weight,
 * which would read gigabytes at each load: a change in place that keeps the size, the header,
 * and — within the same second, the resolution of Deno's change time — the times, is not seen.)
 *
 * @example
 * ```ts
 * const key = await weightsFingerprint(ckpt); // changes when any weight file changes
 * ```
 */
export async function weightsFingerprint(ckpt: Checkpoint): Promise<string> {
  const files = [...new Set(ckpt.store.names().map((n) => ckpt.store.info(n).file))].sort();
  const parts: string[] = [];
  for (const f of files) {
    const s = await Deno.stat(f);
    using h = await Deno.open(f, { read: true });
    const len = new Uint8Array(8);
    await h.read(len);
    const n = Math.min(Number(new DataView(len.buffer).getBigUint64(0, true)), s.size - 8);
    const header = new Uint8Array(n);
    for (let done = 0; done < n;) {
      const r = await h.read(header.subarray(done));
      if (r === null) break;
      done += r;
    }
    const digest = await crypto.subtle.digest("SHA-256", header);
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    parts.push(
      `${basename(f)}:${s.size}:${s.mtime?.getTime()}:${s.ctime?.getTime()}:${s.ino}:${hex}`,
    );
  }
  return parts.join("\n");
}

/** The folder for one variant (e.g. `float32-float32`) of a checkpoint's graphs. */
export async function graphCacheDir(
  ckpt: Checkpoint,
  variant: string,
  root = cacheRoot(),
): Promise<string> {
  const parts = [GRAPH_VERSION, JSON.stringify(ckpt.config), resolve(ckpt.dir)];
  parts.push(await weightsFingerprint(ckpt));
  const key = (await sha256(parts.join("\n"))).slice(0, 16);
  return join(root, `${basename(resolve(ckpt.dir))}-${key}`, variant);
}
