/**
 * Greedy text generation from a Mamba checkpoint, streamed as it is generated.
 *
 *   deno task generate --model DIR --prompt TEXT [--max-new-tokens N] [--ep cpu|webgpu|cuda] [--dtype fp32|fp16]
 *   deno task generate --prompt-file FILE     (or --prompt-file - to read the prompt from stdin)
 */
import { checkCacheDir } from "../lib/cache.ts";
import { intOption, parseCli, runCli, textStreamer, threadsOption } from "../lib/cli.ts";
import { loadModel } from "../lib/model.ts";
import { EMBEDDED_MODEL, userPath } from "../lib/paths.ts";
import { parseEp } from "../lib/runtime.ts";
import { KitError } from "../lib/errors.ts";

const MAX_NEW = 1_000_000;

const USAGE = `Greedy generation with a Mamba model in onnxruntime.

usage: deno task generate [--model DIR] [--prompt TEXT] [options]

  --model DIR           checkpoint folder (config.json, model.safetensors, tokenizer.json);
                        default: the embedded demo model (${EMBEDDED_MODEL})
  --prompt TEXT         text to continue (default: "The Time Traveller")
  --prompt-file FILE    read the prompt from a UTF-8 text file instead (- reads standard input);
                        for prompts longer than a command line comfortably holds
  --max-new-tokens N    tokens to generate (default 64, at most ${MAX_NEW}; stops early at end of
                        text)
  --ep NAME             execution provider: cpu (default), webgpu, cuda
  --dtype NAME          fp32 (default) or fp16
  --threads N           CPU threads per operator (default: all cores)`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    model: { type: "string" },
    prompt: { type: "string" },
    "prompt-file": { type: "string" },
    "max-new-tokens": { type: "string" },
    ep: { type: "string" },
    dtype: { type: "string" },
    threads: { type: "string" },
  }, USAGE);
  const dtype = o.dtype ?? "fp32";
  if (dtype !== "fp32" && dtype !== "fp16") {
    throw new KitError(`--dtype must be fp32 or fp16, got '${dtype}'`);
  }
  const maxNew = intOption(o["max-new-tokens"], "max-new-tokens", 64, { min: 0, max: MAX_NEW });
  const threads = threadsOption(o.threads);
  const ep = parseEp(o.ep ?? "cpu");
  const prompt = await readPrompt(o.prompt, o["prompt-file"]);
  await checkCacheDir();
  const t0 = performance.now();
  const model = await loadModel(o.model ? userPath(o.model) : EMBEDDED_MODEL, {
    ep,
    dtype,
    threads,
  });
  const ids = model.tokenizer.encode(prompt);
  if (ids.length === 0) {
    throw new KitError(`${o["prompt-file"] ? "--prompt-file" : "--prompt"}: the prompt is empty`);
  }
  console.error(
    `loaded ${model.source} (${model.method}, ${model.ep}) in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  const enc = new TextEncoder();
  await Deno.stdout.write(enc.encode(prompt));
  const stream = textStreamer((x) => model.tokenizer.decode(x));
  const times: number[] = [];
  const start = performance.now();
  const out = await model.generate(ids, {
    maxNewTokens: maxNew,
    stopAtEos: true,
    onToken: (id) => {
      times.push(performance.now());
      if (id !== model.tokenizer.eosId) Deno.stdout.writeSync(enc.encode(stream(id)));
    },
  });
  await Deno.stdout.write(enc.encode("\n"));
  const prefillS = (times[0] - start) / 1000;
  const decodeS = (times[times.length - 1] - times[0]) / 1000;
  const decodeRate = out.length > 1 ? `${((out.length - 1) / decodeS).toFixed(1)} tokens/s` : "n/a";
  console.error(
    `prefill: ${ids.length} tokens in ${(prefillS * 1000).toFixed(1)} ms (${
      (ids.length / prefillS).toFixed(1)
    } tokens/s); ` +
      `decode: ${out.length - 1} tokens, ${decodeRate}`,
  );
  await model.close();
});

/** The prompt: --prompt, or the text of --prompt-file (`-`: standard input). */
async function readPrompt(prompt?: string, file?: string): Promise<string> {
  if (prompt !== undefined && file !== undefined) {
    throw new KitError("give --prompt or --prompt-file, not both");
  }
  if (file === undefined) return prompt ?? "The Time Traveller";
  let bytes: Uint8Array;
  try {
    bytes = file === "-"
      ? new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer())
      : await Deno.readFile(userPath(file));
  } catch (e) {
    throw new KitError(`--prompt-file ${file}: cannot read it (${(e as Error).message})`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new KitError(`--prompt-file ${file}: not UTF-8 text`);
  }
}
