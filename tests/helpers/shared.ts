/** The workplace's shared data folder (evaluation data, the GPT-NeoX tokenizer). */
import { fileURLToPath } from "node:url";

/** `$QUAMBA_KIT_SHARED_DATA`, else `../shared/data` beside the repository. */
export const SHARED_DATA: string = Deno.env.get("QUAMBA_KIT_SHARED_DATA") ??
  fileURLToPath(new URL("../../../shared/data", import.meta.url));
