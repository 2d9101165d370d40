/**
 * Finding and loading onnxruntime's shared library: the one the installed onnxruntime-node
 * package ships (or `$QUAMBA_ORT_LIB`), its version string, and the highest C API version it
 * answers for.
 */
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { KitError } from "../errors.ts";
import { REQUIRED_API_VERSION } from "./api_table.ts";

/** Environment variable naming the onnxruntime shared library to load instead of the package's. */
export const ORT_LIB_ENV = "QUAMBA_ORT_LIB";

/** The loaded library. */
export interface OrtLibrary {
  /** File loaded. */
  path: string;
  /** `OrtApiBase::GetVersionString`, e.g. "1.30.0". */
  version: string;
  /** The API version asked for (the highest the library supports). */
  apiVersion: number;
  /** `const OrtApi*`. */
  api: Deno.PointerObject;
  /** The onnxruntime-node package folder it came from (undefined for `$QUAMBA_ORT_LIB`). */
  packageDir?: string;
}

function libraryFile(): string {
  if (Deno.build.os === "windows") return "onnxruntime.dll";
  if (Deno.build.os === "darwin") return "libonnxruntime.dylib";
  return "libonnxruntime.so.1";
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function packageVersion(dir: string): string {
  try {
    return JSON.parse(Deno.readTextFileSync(join(dir, "package.json"))).version ?? "";
  } catch {
    return "";
  }
}

/** Numeric comparison of dotted versions ("1.30.0" > "1.9.1"). */
function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number), pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d) return d;
  }
  return 0;
}

/** onnxruntime-node package folders reachable from here: Node resolution, then npm folders
 * of `deno install` (`node_modules/.deno/onnxruntime-node@*`) under the working directory and
 * the kit's root, newest version first.
 *
 * @example
 * ```ts
 * packageDirs()[0]; // ".../node_modules/.deno/onnxruntime-node@1.30.0/node_modules/onnxruntime-node"
 * ```
 */
export function packageDirs(): string[] {
  const found: string[] = [];
  try {
    const main = createRequire(import.meta.url).resolve("onnxruntime-node");
    let dir = dirname(main);
    while (dir !== dirname(dir) && !isFile(join(dir, "package.json"))) dir = dirname(dir);
    found.push(dir);
  } catch { /* not resolvable from this module (e.g. imported from a URL) */ }
  const roots = [Deno.cwd()];
  if (import.meta.url.startsWith("file:")) {
    roots.push(resolve(dirname(new URL(import.meta.url).pathname), "../.."));
  }
  const globbed: string[] = [];
  for (const root of roots) {
    const npm = join(root, "node_modules", ".deno");
    try {
      for (const e of Deno.readDirSync(npm)) {
        if (e.name.startsWith("onnxruntime-node@")) {
          globbed.push(join(npm, e.name, "node_modules", "onnxruntime-node"));
        }
      }
    } catch { /* no npm folder there */ }
  }
  globbed.sort((a, b) => compareVersions(packageVersion(b), packageVersion(a)));
  return [...new Set([...found, ...globbed])];
}

/**
 * The shared library inside an onnxruntime-node package folder.
 *
 * @example
 * ```ts
 * libraryInPackage(dir); // "<dir>/bin/napi-v6/linux/x64/libonnxruntime.so.1"
 * ```
 */
export function libraryInPackage(dir: string): string {
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
  return join(
    dir,
    "bin",
    "napi-v6",
    Deno.build.os === "windows" ? "win32" : Deno.build.os,
    arch,
    libraryFile(),
  );
}

/**
 * Where the library is: `$QUAMBA_ORT_LIB`, else the installed onnxruntime-node package's.
 *
 * @example
 * ```ts
 * locateLibrary().path; // ".../onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
 * ```
 */
export function locateLibrary(): { path: string; packageDir?: string } {
  const override = Deno.env.get(ORT_LIB_ENV);
  if (override) {
    if (!isFile(override)) {
      throw new KitError(
        `$${ORT_LIB_ENV}=${override}: no such file (an onnxruntime shared library)`,
      );
    }
    return { path: resolve(override) };
  }
  const dirs = packageDirs();
  for (const dir of dirs) {
    const path = libraryInPackage(dir);
    if (isFile(path)) return { path, packageDir: dir };
  }
  throw new KitError(
    `onnxruntime's shared library was not found: no onnxruntime-node package with ` +
      `${libraryFile()} (looked in ${dirs.length ? dirs.join(", ") : "node_modules"}). ` +
      `Run 'deno install' in the kit's folder, or point $${ORT_LIB_ENV} at the library.`,
  );
}

let loaded: OrtLibrary | undefined;

/**
 * Loads the library once per process and asks for the highest API version it supports (from
 * its own minor version down to the version the kit needs).
 *
 * @example
 * ```ts
 * const lib = ortLibrary();
 * console.log(lib.version, lib.apiVersion); // "1.30.0" 30
 * ```
 */
export function ortLibrary(): OrtLibrary {
  if (loaded) return loaded;
  const { path, packageDir } = locateLibrary();
  let dl;
  try {
    dl = Deno.dlopen(path, { OrtGetApiBase: { parameters: [], result: "pointer" } });
  } catch (e) {
    throw new KitError(`${path}: could not load onnxruntime: ${(e as Error).message}`);
  }
  const base = dl.symbols.OrtGetApiBase();
  if (base === null) throw new KitError(`${path}: OrtGetApiBase returned NULL`);
  const view = new Deno.UnsafePointerView(base);
  const getApi = new Deno.UnsafeFnPointer(view.getPointer(0)!, {
    parameters: ["u32"],
    result: "pointer",
  });
  const getVersion = new Deno.UnsafeFnPointer(view.getPointer(8)!, {
    parameters: [],
    result: "pointer",
  });
  const version = Deno.UnsafePointerView.getCString(getVersion.call()!);
  const minor = Number(/^\d+\.(\d+)/.exec(version)?.[1] ?? NaN);
  // the C API version has followed the minor version since 1.x; try it first, then below
  const top = Number.isFinite(minor) && minor >= REQUIRED_API_VERSION
    ? minor
    : REQUIRED_API_VERSION;
  for (let v = top; v >= REQUIRED_API_VERSION; v--) {
    const api = getApi.call(v);
    if (api !== null) {
      loaded = { path, version, apiVersion: v, api, packageDir };
      return loaded;
    }
  }
  throw new KitError(
    `${path}: onnxruntime ${version} does not offer C API version ${REQUIRED_API_VERSION} ` +
      `(onnxruntime 1.${REQUIRED_API_VERSION} or newer is needed)`,
  );
}
