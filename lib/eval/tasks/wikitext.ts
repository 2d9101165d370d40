/**
 * Two WikiText-2 perplexities, labelled apart everywhere:
 *
 * - `wikitext`: lm-eval's task. Documents of `wiki.test.raw` split at top-level headings
 *   (EleutherAI/wikitext_document_level), each detokenized (`wikitext_detokenizer`) and scored
 *   by rolling windows (`loglikelihood_rolling`); word_perplexity, byte_perplexity and
 *   bits_per_byte, where words and bytes are counted on the document *before* detokenization.
 * - `quamba_wikitext2`: Quamba's (GPTQ-style) token perplexity. The test split's rows joined
 *   with "\n\n", tokenized once, cut into non-overlapping `maxLength`-token windows (the
 *   remainder dropped); `token_perplexity` = exp(mean NLL of the predicted tokens 2..L of each
 *   window), which equals Quamba's exp(sum(loss_i * L) / (n * L)).
 */
import { join } from "node:path";
import { KitError } from "../../errors.ts";
import { BITS_PER_BYTE, WEIGHTED_PERPLEXITY } from "../metrics.ts";
import { readText } from "../data.ts";
import { PY_WHITESPACE, pyStrip, pyWordCount } from "../pystr.ts";
import type { Task } from "../task.ts";
import { rollingWindows, tokenWindows } from "../windows.ts";
import type { TokenRequest } from "../requests.ts";

/** The documents of a raw WikiText file, as EleutherAI/wikitext_document_level makes them. */
export function wikitextDocuments(raw: string): string[] {
  const docs: string[] = [];
  let ret: string[] = [];
  for (const line of raw.split("\n")) {
    const r = pyStrip(line.replaceAll("= = =", "===").replaceAll("= =", "=="));
    if (r.startsWith("= ") && pyStrip(r).endsWith(" =")) {
      const page = ret.join("\n");
      if (pyStrip(page)) docs.push(page);
      ret = [];
    }
    ret.push(line);
  }
  docs.push(ret.join("\n"));
  return docs;
}

const S = `[${PY_WHITESPACE.map((c) => `\\u{${c.toString(16)}}`).join("")}]*`;
const re = (src: string) => new RegExp(src.replaceAll("\\s*", S), "gu");
const BRACKETS: [RegExp, string][] = [
  [re(String.raw`\(\s*([^\)]*?)\s*\)`), "($1)"],
  [re(String.raw`\[\s*([^\]]*?)\s*\]`), "[$1]"],
  [re(String.raw`\{\s*([^}]*?)\s*\}`), "{$1}"],
  [re(String.raw`"\s*([^"]*?)\s*"`), '"$1"'],
  [re(String.raw`'\s*([^']*?)\s*'`), "'$1'"],
];

/** lm-eval's `wikitext_detokenizer`, rule for rule. */
export function wikitextDetokenize(page: string): string {
  let s = page;
  s = s.replaceAll("s '", "s'");
  s = s.replace(/\/' [0-9]\//g, "/'[0-9]/");
  s = s.replaceAll(" @-@ ", "-").replaceAll(" @,@ ", ",").replaceAll(" @.@ ", ".");
  for (const p of [":", ";", ".", "!", "?", ","]) s = s.replaceAll(` ${p} `, `${p} `);
  for (const [r, to] of BRACKETS) s = s.replace(r, to);
  s = s.replaceAll("= = = =", "====").replaceAll("= = =", "===").replaceAll("= =", "==");
  s = s.replaceAll(" \u00b0 ", "\u00b0");
  s = s.replaceAll(" \n", "\n").replaceAll("\n ", "\n");
  s = s.replaceAll(" N ", " 1 ");
  s = s.replaceAll(" 's", "'s");
  return s;
}

export interface WikiDoc {
  page: string;
}

export const wikitext: Task<WikiDoc> = {
  name: "wikitext",
  version: 2.0,
  description: "lm-eval wikitext: document-level rolling loglikelihood (not Quamba's perplexity)",
  outputType: "loglikelihood_rolling",
  dataset: { path: "EleutherAI/wikitext_document_level", name: "wikitext-2-raw-v1", split: "test" },
  async load(dir) {
    const file = join(dir, "wikitext-2", "wiki.test.raw");
    return {
      docs: wikitextDocuments(await readText(file)).map((page) => ({ page })),
      files: [file],
    };
  },
  tokenRequests(doc, env): TokenRequest[] {
    const ids = env.tokenizer.encode(wikitextDetokenize(doc.page));
    return rollingWindows(ids, env.prefixId, env.maxLength);
  },
  process(doc, results) {
    const ll = results.reduce((a, r) => a + r.logprob, 0);
    const bytes = new TextEncoder().encode(doc.page).length;
    return {
      word_perplexity: [ll, pyWordCount(doc.page)],
      byte_perplexity: [ll, bytes],
      bits_per_byte: [ll, bytes],
    };
  },
  metrics: {
    word_perplexity: WEIGHTED_PERPLEXITY,
    byte_perplexity: WEIGHTED_PERPLEXITY,
    bits_per_byte: BITS_PER_BYTE,
  },
};

/**
 * The rows of a raw WikiText file as Hugging Face `wikitext-2-raw-v1` holds them: each line with
 * its "\n", and whitespace-only lines as "".
 */
export function wikitextRows(raw: string): string[] {
  const lines = raw.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => pyStrip(l) === "" ? "" : l + "\n");
}

/** One window of Quamba's perplexity: the request predicting its tokens 2..L. */
export interface TokenWindow {
  window: TokenRequest;
}

export const quambaWikitext2: Task<TokenWindow> = {
  name: "quamba_wikitext2",
  version: 1.0,
  description:
    "Quamba's WikiText-2 token perplexity: test split joined by \\n\\n, tokenized once, " +
    "non-overlapping windows, remainder dropped (not lm-eval's wikitext)",
  outputType: "token_windows",
  dataset: { path: "wikitext", name: "wikitext-2-raw-v1", split: "test" },
  async load(dir, env) {
    const file = join(dir, "wikitext-2", "wiki.test.raw");
    const text = wikitextRows(await readText(file)).join("\n\n");
    const ids = env.tokenizer.encode(text);
    const windows = tokenWindows(ids, env.maxLength);
    if (windows.length === 0) {
      throw new KitError(
        `${file}: ${ids.length} tokens, fewer than one window of ${env.maxLength}`,
      );
    }
    return { docs: windows.map((window) => ({ window })), files: [file] };
  },
  tokenRequests: (doc) => [doc.window],
  process(doc, [r]) {
    return { token_perplexity: [r.logprob, doc.window.continuation.length] };
  },
  metrics: { token_perplexity: WEIGHTED_PERPLEXITY },
};
