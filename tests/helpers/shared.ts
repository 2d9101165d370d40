/** The workplace's shared data folder (evaluation data, the GPT-NeoX tokenizer). */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** `$QUAMBA_KIT_SHARED_DATA`, else `../shared/data` beside the repository. */
export const SHARED_DATA: string = Deno.env.get("QUAMBA_KIT_SHARED_DATA") ??
  fileURLToPath(new URL("../../../shared/data", import.meta.url));

/** The GPT-NeoX-20B tokenizer's folder, or an error that says where it was looked for and how to point at it. */
export function neoxTokenizerDir(): string {
  const dir = join(SHARED_DATA, "tokenizers", "gpt-neox-20b");
  try {
    Deno.statSync(join(dir, "tokenizer.json"));
  } catch {
    throw new Error(
      `the GPT-NeoX-20B tokenizer is not at ${dir}: these tests need the shared data folder ` +
        `beside the repository (../shared/data), or QUAMBA_KIT_SHARED_DATA set to a folder ` +
        `holding tokenizers/gpt-neox-20b/tokenizer.json`,
    );
  }
  return dir;
}
