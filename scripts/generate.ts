/**
 * Greedy text generation from a Mamba checkpoint, streamed as it is generated.
 *
 *   deno task generate --model DIR --prompt TEXT [--max-new-tokens N] [--ep cpu|webgpu|cuda] [--dtype fp32|fp16]
 */
import { intOption, parseCli, runCli, textStreamer } from "../lib/cli.ts";
import { loadModel } from "../lib/model.ts";
import { EMBEDDED_MODEL } from "../lib/paths.ts";
import { parseEp } from "../lib/runtime.ts";
import { KitError } from "../lib/errors.ts";

const USAGE = `Greedy generation with a Mamba model in onnxruntime.

usage: deno task generate [--model DIR] [--prompt TEXT] [options]

  --model DIR           checkpoint folder (config.json, model.safetensors, tokenizer.json);
                        default: the embedded demo model (${EMBEDDED_MODEL})
  --prompt TEXT         text to continue (default: "The Time Traveller")
  --max-new-tokens N    tokens to generate (default 64; stops early at end of text)
  --ep NAME             execution provider: cpu (default), webgpu, cuda
  --dtype NAME          fp32 (default) or fp16
  --threads N           CPU threads per operator (default: all cores)`;

await runCli(async () => {
  const o = parseCli(Deno.args, {
    model: { type: "string" },
    prompt: { type: "string" },
    "max-new-tokens": { type: "string" },
    ep: { type: "string" },
    dtype: { type: "string" },
    threads: { type: "string" },
  }, USAGE);
  const dtype = o.dtype ?? "fp32";
  if (dtype !== "fp32" && dtype !== "fp16") {
    throw new KitError(`--dtype must be fp32 or fp16, got '${dtype}'`);
  }
  const maxNew = intOption(o["max-new-tokens"], "max-new-tokens", 64);
  const t0 = performance.now();
  const model = await loadModel(o.model ?? EMBEDDED_MODEL, {
    ep: parseEp(o.ep ?? "cpu"),
    dtype,
    threads: intOption(o.threads, "threads", 0) || undefined,
  });
  const prompt = o.prompt ?? "The Time Traveller";
  const ids = model.tokenizer.encode(prompt);
  if (ids.length === 0) throw new KitError("--prompt is empty");
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
