/** Files that ship with the kit, found relative to this module (whatever the working folder). */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The kit's own folder (where deno.json is). */
export const KIT_ROOT: string = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/**
 * A path the user gave on the command line, made absolute against the folder they ran the
 * command from: `deno task` runs scripts in the kit's folder and passes the user's folder in
 * `INIT_CWD`; a plain `deno run` keeps the working folder.
 *
 * @example
 * ```ts
 * userPath("reports/stats"); // "/home/me/project/reports/stats" when run from /home/me/project
 * ```
 */
export function userPath(path: string): string {
  return resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), path);
}

/** The kit's `data/` folder. */
export const DATA_DIR: string = fileURLToPath(new URL("../data", import.meta.url));

/** The embedded demo model: a small Mamba-1 trained on public-domain books. */
export const EMBEDDED_MODEL: string = fileURLToPath(
  new URL("../data/models/embedded", import.meta.url),
);

/**
 * A tiny trained Jamba (108k parameters: attention at layers 1 and 4, 3 experts top-2 at layers 1
 * and 3), with transformers' reference outputs beside it (made by scripts/make_jamba_fixture.py).
 */
export const JAMBA_TINY_MODEL: string = fileURLToPath(
  new URL("../tests/fixtures/jamba_tiny", import.meta.url),
);

/**
 * The tiny trained Mamba-2 of the tests (78.5k parameters, n_groups 1, 8 heads of 12), with
 * transformers' reference outputs beside it (made by scripts/make_mamba2_fixture.py).
 */
export const MAMBA2_TINY_MODEL: string = fileURLToPath(
  new URL("../tests/fixtures/mamba2_tiny", import.meta.url),
);

/** The default calibration text: a WikiText-2 validation sample (see data/calibration/README.md). */
export const DEFAULT_CALIBRATION: string = fileURLToPath(
  new URL("../data/calibration/wikitext2_valid_sample.txt", import.meta.url),
);

/** Latency measured on the lent H200 machine (WebGPU EP and its 16-core CPU; see its README). */
export const H200_RESULTS: string = fileURLToPath(
  new URL("../docs/latency/h200", import.meta.url),
);

/**
 * What the kit's tasks may do (deno.json gives each task these flags; a test checks): read and
 * write files, read and set environment variables, load onnxruntime's native library (FFI), read
 * the machine's name, cores and load. No network. Tasks that start processes of their own (bench,
 * probe-ep) add `--allow-run`, and start them with these flags.
 */
export const TASK_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
];

/** Held-out text: *The Time Machine*, never seen by the embedded model (data/heldout/README.md). */
export const DEFAULT_HELDOUT: string = fileURLToPath(
  new URL("../data/heldout/time_machine.txt", import.meta.url),
);
