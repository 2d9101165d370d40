/** Files that ship with the kit, found relative to this module (whatever the working folder). */
import { fileURLToPath } from "node:url";

/** The kit's `data/` folder. */
export const DATA_DIR: string = fileURLToPath(new URL("../data", import.meta.url));

/** The embedded demo model: a small Mamba-1 trained on public-domain books. */
export const EMBEDDED_MODEL: string = fileURLToPath(
  new URL("../data/models/embedded", import.meta.url),
);

/** The default calibration text: a WikiText-2 validation sample (see data/calibration/README.md). */
export const DEFAULT_CALIBRATION: string = fileURLToPath(
  new URL("../data/calibration/wikitext2_valid_sample.txt", import.meta.url),
);

/** Latency measured on the lent H200 machine (WebGPU EP and its 16-core CPU; see its README). */
export const H200_RESULTS: string = fileURLToPath(
  new URL("../docs/latency/h200", import.meta.url),
);

/** Held-out text: *The Time Machine*, never seen by the embedded model (data/heldout/README.md). */
export const DEFAULT_HELDOUT: string = fileURLToPath(
  new URL("../data/heldout/time_machine.txt", import.meta.url),
);
