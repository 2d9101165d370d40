/**
 * Where built ONNX graphs are kept, keyed by what they were built from: the kit's graph version,
 * the config, and the size and modification time of every weight file.
 */
import { basename, join, resolve } from "node:path";
import type { Checkpoint } from "./checkpoint.ts";

/** Bump when the graphs the kit builds change, so that old cached graphs are not reused. */
export const GRAPH_VERSION = "4";

/** The kit's cache root: `$QUAMBA_KIT_CACHE`, else `$XDG_CACHE_HOME/quamba-kit`, else `~/.cache/quamba-kit`. */
export function cacheRoot(): string {
  const env = Deno.env.get("QUAMBA_KIT_CACHE");
  if (env) return env;
  const xdg = Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? ".", ".cache");
  return join(xdg, "quamba-kit");
}

/** Hex SHA-256 of a string. */
export async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The folder for one variant (e.g. `float32-float32`) of a checkpoint's graphs. */
export async function graphCacheDir(
  ckpt: Checkpoint,
  variant: string,
  root = cacheRoot(),
): Promise<string> {
  const files = [...new Set(ckpt.store.names().map((n) => ckpt.store.info(n).file))].sort();
  const parts = [GRAPH_VERSION, JSON.stringify(ckpt.config), resolve(ckpt.dir)];
  for (const f of files) {
    const s = await Deno.stat(f);
    parts.push(`${basename(f)}:${s.size}:${s.mtime?.getTime()}`);
  }
  const key = (await sha256(parts.join("\n"))).slice(0, 16);
  return join(root, `${basename(resolve(ckpt.dir))}-${key}`, variant);
}
