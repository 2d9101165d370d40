/**
 * Output folders: checked before any work, and never a folder the kit did not write.
 *
 * Every folder a task writes holds a marker, `.quamba-kit.json` (`{format, task, kit_version,
 * created}`; a quantized model's `manifest.json` plays that part). A task writes into a folder
 * that does not exist, is empty, or holds its own marker; anything else is refused unless the
 * caller passes `force` — and even then the kit never writes over its own inputs, its own
 * files, the home folder or `/`, and never replaces a file by a folder.
 */
import { basename, dirname, join, resolve } from "node:path";
import { KitError } from "./errors.ts";
import { isWithin, writeFileAtomic } from "./fsutil.ts";
import { KIT_ROOT } from "./paths.ts";
import { removeStaleTemps, removeStaleTempsBeside, tempPath } from "./temp.ts";
import { KIT_VERSION } from "./version.ts";

/** The marker file of a folder the kit wrote. */
export const MARKER = ".quamba-kit.json";

/** What a marker says. */
export interface Marker {
  format: "quamba-kit output";
  task: string;
  kit_version: string;
  created: string;
}

export interface OutputOptions {
  /** How the path is named in messages (default `--out`). */
  label?: string;
  /** Write into (or replace) a folder the kit did not write. */
  force?: boolean;
  /** Paths the task reads: the output may not be one of them or hold one. */
  inputs?: string[];
  /** Recognises an earlier output of the task written before markers existed. */
  recognise?: (dir: string) => Promise<boolean>;
  /**
   * The folder will be replaced as a whole (a quantized model): besides the checks above, it may
   * hold only the files listed by `ownFiles` (what its earlier run wrote) unless `force`.
   */
  ownFiles?: (dir: string) => Promise<string[] | undefined>;
}

/** The kit's own folders, which no output may touch. */
const KIT_FOLDERS = [
  "data",
  "lib",
  "scripts",
  "tests",
  "docs",
  "notebooks",
  "bench",
  ".ci",
  ".git",
];

/** `path` with symbolic links resolved as far as it exists (the rest appended). */
function realish(path: string): string {
  const abs = resolve(path);
  try {
    return Deno.realPathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(realish(parent), basename(abs));
  }
}

/** Refuses outputs that would harm the inputs, the kit, the home folder or `/` (even forced). */
function checkProtected(dir: string, label: string, inputs: string[]): void {
  const home = Deno.env.get("HOME");
  const real = realish(dir);
  const say = (why: string) => new KitError(`${label} ${dir}: ${why}; choose another folder`);
  if (real === "/") throw say("that is the root folder");
  if (home && real === realish(home)) throw say("that is your home folder");
  for (const input of inputs) {
    if (isWithin(realish(input), real)) {
      throw say(
        real === realish(input)
          ? "that is an input of this task"
          : `it holds ${input}, an input of this task`,
      );
    }
  }
  if (isWithin(realish(KIT_ROOT), real)) throw say("it holds the kit itself");
  for (const f of KIT_FOLDERS) {
    if (isWithin(real, realish(join(KIT_ROOT, f)))) {
      throw say(`that is inside the kit's own ${f}/ folder`);
    }
  }
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined; // (a path under a file: the write says why it cannot be)
    }
    throw e;
  }
}

/** Reads a folder's marker; undefined if there is none or it is not one of the kit's. */
export async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    const m = JSON.parse(await Deno.readTextFile(join(dir, MARKER)));
    return m?.format === "quamba-kit output" && typeof m.task === "string" ? m : undefined;
  } catch {
    return undefined;
  }
}

function listed(names: string[]): string {
  const shown = names.slice(0, 5).join(", ");
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/**
 * Checks that `path` is a folder that can be written, creating it (and its parents) if needed.
 * Errors name `label` and the path.
 *
 * @example
 * ```ts
 * await ensureWritableDir("/tmp/kit-cache", "QUAMBA_KIT_CACHE");
 * ```
 */
export async function ensureWritableDir(path: string, label: string): Promise<string> {
  const dir = resolve(path);
  const st = await statOrUndefined(dir).catch(() => undefined);
  if (st && !st.isDirectory) throw new KitError(`${label} ${dir}: is a file, not a folder`);
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = tempPath(join(dir, ".write-probe"));
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    throw new KitError(`${label} ${dir}: cannot write there (${(e as Error).message})`);
  }
  return dir;
}

/**
 * Checks, before any work, that task `task` may write its results into `path`; creates the folder
 * and its marker. Returns the absolute path.
 *
 * @example
 * ```ts
 * const out = await prepareOutputDir("reports/stats", "stats", { inputs: [modelDir] });
 * ```
 */
export async function prepareOutputDir(
  path: string,
  task: string,
  options: OutputOptions = {},
): Promise<string> {
  const label = options.label ?? "--out";
  const dir = resolve(path);
  checkProtected(dir, label, options.inputs ?? []);
  const st = await statOrUndefined(dir).catch((e) => {
    throw new KitError(`${label} ${dir}: cannot look at it (${(e as Error).message})`);
  });
  if (st && !st.isDirectory) {
    throw new KitError(
      `${label} ${dir}: is a file; the kit never replaces a file with a folder. ` +
        `Choose a new folder, or remove the file yourself`,
    );
  }
  if (st) {
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).filter((n) =>
      n !== MARKER
    ).sort();
    const marker = await readMarker(dir);
    const ours = marker?.task === task || (!marker && await options.recognise?.(dir));
    if (!options.force && names.length > 0 && !ours) {
      throw new KitError(
        marker
          ? `${label} ${dir}: holds the output of 'deno task ${marker.task}', not of '${task}'; ` +
            `choose another folder, or pass --force to write into it anyway`
          : `${label} ${dir}: holds files the kit did not write (${listed(names)}); choose a new ` +
            `or empty folder, or pass --force to ${
              options.ownFiles ? "replace it" : "write into it"
            } anyway`,
      );
    }
    if (options.ownFiles && !options.force && ours) {
      const own = new Set(await options.ownFiles(dir) ?? []);
      const foreign = names.filter((n) => !own.has(n));
      if (foreign.length) {
        throw new KitError(
          `${label} ${dir}: besides the kit's earlier output it holds ${
            listed(foreign)
          }, which replacing it would delete; move them, choose another folder, or pass --force`,
        );
      }
    }
  }
  await ensureWritableDir(options.ownFiles ? dirname(dir) : dir, label);
  await removeStaleTempsBeside(dir);
  if (!options.ownFiles) {
    await ensureWritableDir(dir, label);
    await removeStaleTemps(dir);
    const marker = await readMarker(dir);
    if (marker?.task !== task) {
      const m: Marker = {
        format: "quamba-kit output",
        task,
        kit_version: KIT_VERSION,
        created: new Date().toISOString(),
      };
      await writeFileAtomic(join(dir, MARKER), JSON.stringify(m, null, 1) + "\n");
    }
  }
  return dir;
}
