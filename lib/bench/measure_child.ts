/** The child process of `measureIsolated`: a MeasureSpec on stdin, a MeasureResult on stdout. */
import { measureOne, type MeasureSpec } from "./measure.ts";

const spec: MeasureSpec = JSON.parse(await new Response(Deno.stdin.readable).text());
console.log(JSON.stringify(await measureOne(spec)));
