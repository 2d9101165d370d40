/** The child process of `measureIsolated`: a MeasureSpec on stdin, a MeasureResult on stdout. */
import { runCli } from "../cli.ts";
import { measureOne, type MeasureSpec } from "./measure.ts";

// runCli: ends with its parent, removes its temporaries on a signal
await runCli(async () => {
  const spec: MeasureSpec = JSON.parse(await new Response(Deno.stdin.readable).text());
  console.log(JSON.stringify(await measureOne(spec)));
});
