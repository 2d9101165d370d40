/**
 * The evaluation cache: one small JSON file per (model, method, task, example), written
 * atomically once all of an example's requests are scored, so that an interrupted run resumes
 * where it stopped and a failed example leaves nothing behind. Each file records a hash of the
 * example's token requests and the maximum length, so a changed data file, tokenizer or option
 * is recomputed rather than reused.
 */
import { join, resolve } from "node:path";
import { cacheRoot, sha256 } from "../cache.ts";
import { writeFileAtomic } from "../fsutil.ts";
import type { LoglikelihoodResult, TokenRequest } from "./requests.ts";

/**
 * Identifies a model's weights: the folder, the method, the execution provider and the name,
 * size and modification time of each file in the folder.
 */
export async function modelKey(dir: string, method: string, ep: string): Promise<string> {
  const parts = [resolve(dir), method, ep];
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  for (const n of names.sort()) {
    const s = await Deno.stat(join(dir, n));
    parts.push(`${n}:${s.size}:${s.mtime?.getTime()}`);
  }
  const base = resolve(dir).split(/[\\/]/).pop() || "model";
  return `${base}-${method}-${ep}-${(await sha256(parts.join("\n"))).slice(0, 16)}`;
}

/** The hash an example's cached results must match. */
export async function requestsKey(requests: TokenRequest[], maxLength: number): Promise<string> {
  return await sha256(JSON.stringify([maxLength, requests]));
}

/**
 * Per-example results on disk.
 *
 * @example
 * ```ts
 * const cache = new EvalCache(await modelKey(dir, "fp32", "cpu"));
 * const hit = await cache.get("piqa", 0, key); // undefined on a miss
 * await cache.put("piqa", 0, key, results);
 * ```
 */
export class EvalCache {
  readonly dir: string;

  constructor(model: string, root: string = join(cacheRoot(), "eval")) {
    this.dir = join(root, model);
  }

  private file(task: string, index: number): string {
    return join(this.dir, task, `${index}.json`);
  }

  /** The cached results of example `index`, if present and made from the same requests. */
  async get(task: string, index: number, key: string): Promise<LoglikelihoodResult[] | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.file(task, index));
    } catch {
      return undefined;
    }
    try {
      const v = JSON.parse(text) as { key: string; results: LoglikelihoodResult[] };
      return v.key === key && Array.isArray(v.results) ? v.results : undefined;
    } catch {
      return undefined; // a damaged entry is recomputed
    }
  }

  /** Stores the results of example `index`. */
  async put(
    task: string,
    index: number,
    key: string,
    results: LoglikelihoodResult[],
  ): Promise<void> {
    await writeFileAtomic(this.file(task, index), JSON.stringify({ key, results }));
  }
}
