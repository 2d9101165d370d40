/**
 * The tokenizer of a checkpoint (`tokenizer.json` + `tokenizer_config.json`), through
 * `@huggingface/tokenizers`.
 */
import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import { join } from "node:path";
import { KitError } from "./errors.ts";

/** Text to token ids and back. */
export interface Tokenizer {
  /** Token ids of `text`, with no special tokens added. */
  encode(text: string): number[];
  /** Text of `ids`; special tokens are kept unless `skipSpecial`. */
  decode(ids: number[], options?: { skipSpecial?: boolean }): string;
  /** Size of the tokenizer's vocabulary (may be less than the model's embedding rows). */
  readonly vocabSize: number;
  /** Id of the end-of-text token, if the tokenizer has one. */
  readonly eosId: number | undefined;
}

/**
 * Loads `tokenizer.json` (and `tokenizer_config.json` if present) from a folder.
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer("data/models/embedded");
 * tok.decode(tok.encode("Hello world")); // "Hello world"
 * ```
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const file = join(dir, "tokenizer.json");
  const json = await readJson(file, true) as Record<string, unknown>;
  const cfgFile = join(dir, "tokenizer_config.json");
  const config = (await readJson(cfgFile, false) ?? {}) as Record<string, unknown>;
  const model = json.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== "object" || typeof model.type !== "string" && !model.vocab) {
    throw new KitError(`${file}: malformed tokenizer: no 'model' with a vocabulary`);
  }
  let tok: HFTokenizer;
  try {
    tok = new HFTokenizer(json, config);
    tok.encode("probe");
  } catch (e) {
    throw new KitError(`${file}: malformed tokenizer: ${(e as Error).message}`);
  }
  const vocab = model.vocab as Record<string, number> | undefined;
  const added = (json.added_tokens ?? []) as { id: number; content: string }[];
  let size = 0;
  for (const id of Object.values(vocab ?? {})) size = Math.max(size, id + 1);
  for (const t of added) size = Math.max(size, t.id + 1);
  const eosText = typeof config.eos_token === "string"
    ? config.eos_token
    : (config.eos_token as { content?: string })?.content ?? "<|endoftext|>";
  const eos = added.find((t) => t.content === eosText)?.id ?? vocab?.[eosText];
  return {
    vocabSize: size,
    eosId: eos,
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids, o) =>
      ids.length ? tok.decode(ids, { skip_special_tokens: o?.skipSpecial ?? false }) : "",
  };
}

/** A stand-in for a checkpoint without `tokenizer.json`: fails clearly when used. */
export function missingTokenizer(dir: string): Tokenizer {
  const fail = (): never => {
    throw new KitError(
      `${join(dir, "tokenizer.json")}: file not found; this model has no tokenizer`,
    );
  };
  return { vocabSize: 0, eosId: undefined, encode: fail, decode: fail };
}

async function readJson(file: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    if (!required) return undefined;
    throw new KitError(`${file}: file not found`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KitError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
}
