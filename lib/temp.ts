/**
 * Temporary files and folders the kit writes beside a destination before renaming them into
 * place, named so that those a dead process left behind can be recognised and removed: `X.tmp-
 * <host>-<pid>-<8 hex>` (and `X.old-…` for a folder being replaced). Only names of this form whose
 * host is this machine and whose process is gone are ever removed, so a live writer — here or on
 * another node of a shared file system — is never touched. Temporary folders under the system's
 * temp folder follow the same rule (`quamba-<what>-<host>-<pid>-…`).
 *
 * On SIGINT/SIGTERM, `runCli` removes what this process is still writing (`track`) before it
 * exits; after `kill -9` the next writer of the same destination removes it.
 */
import { basename, dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { processAlive } from "./proc_files.ts";

function safeHostname(): string {
  try {
    return Deno.hostname().replace(/[^A-Za-z0-9.]/g, "_") || "host";
  } catch {
    return "host";
  }
}

const HOST = safeHostname();

/** A temporary name beside `path` for this process. */
export function tempPath(path: string, kind: "tmp" | "old" = "tmp"): string {
  return `${path}.${kind}-${HOST}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

// X.tmp-<host>-<pid>-<hex8>, and the form of kit 0.1.0 (X.tmp-<pid>-<ms> / X.old-<pid>-<ms>)
const CURRENT = /\.(?:tmp|old)-([A-Za-z0-9._]+)-(\d+)-[0-9a-f]{8}$/;
const LEGACY = /\.(?:tmp|old)-(\d+)-\d{13}$/;

export { processAlive };

/** The writer of a temporary name: its pid, if it was written on this machine. */
function writerOf(name: string): number | undefined {
  const m = CURRENT.exec(name);
  if (m) return m[1] === HOST ? Number(m[2]) : undefined;
  const l = LEGACY.exec(name);
  return l ? Number(l[1]) : undefined;
}

/**
 * Removes the temporary files and folders that dead processes of this machine left in `dir`
 * (only those beside `only`, if given); returns their paths.
 *
 * @example
 * ```ts
 * await removeStaleTemps("/data/out", { only: "/data/out/quamba" });
 * ```
 */
export async function removeStaleTemps(
  dir: string,
  options: { only?: string } = {},
): Promise<string[]> {
  const removed: string[] = [];
  const prefix = options.only === undefined ? undefined : `${basename(options.only)}.`;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return removed;
  }
  for (const e of entries) {
    if (prefix !== undefined && !e.name.startsWith(prefix)) continue;
    const pid = writerOf(e.name);
    if (pid === undefined || processAlive(pid)) continue;
    const path = join(dir, e.name);
    try {
      await Deno.remove(path, { recursive: true });
      removed.push(path);
    } catch { /* gone already, or not ours to remove */ }
  }
  return removed;
}

/** Removes the stale temporaries beside `path` (those named after it). */
export async function removeStaleTempsBeside(path: string): Promise<string[]> {
  return await removeStaleTemps(dirname(path), { only: path });
}

const live = new Set<string>();

/** Marks `path` as being written by this process (removed if the process is interrupted). */
export function track(path: string): void {
  live.add(path);
}

/** `path` is finished or gone. */
export function untrack(path: string): void {
  live.delete(path);
}

/** Removes every tracked path now (on a signal, before exiting). */
export function removeTracked(): void {
  for (const p of live) {
    try {
      Deno.removeSync(p, { recursive: true });
    } catch { /* already gone */ }
  }
  live.clear();
}

let sweptTmp = false;

/**
 * A new folder under the system's temp folder, `quamba-<what>-<host>-<pid>-…`; the first call of
 * a process also removes those that dead processes left there.
 *
 * @example
 * ```ts
 * const dir = await kitTempDir("observe");
 * ```
 */
export async function kitTempDir(what: string): Promise<string> {
  const root = tmpdir();
  if (!sweptTmp) {
    sweptTmp = true;
    try {
      for await (const e of Deno.readDir(root)) {
        if (!e.name.startsWith("quamba-")) continue;
        const pid = writerOf(e.name);
        if (pid !== undefined && !processAlive(pid)) {
          await Deno.remove(join(root, e.name), { recursive: true }).catch(() => {});
        }
      }
    } catch { /* an unreadable temp folder: nothing to sweep */ }
  }
  const dir = tempPath(join(root, `quamba-${what}`));
  await Deno.mkdir(dir, { recursive: true });
  track(dir); // removed on SIGINT/SIGTERM if the caller has not removed it by then
  return dir;
}
