/**
 * The tables of a reproduction folder (after `deno task reproduce`, or after every shard of a
 * `--shard i/n` grid has run into the same folder).
 *
 *   deno task report --out DIR
 */
import { parseCli, runCli } from "../lib/cli.ts";
import { KitError } from "../lib/errors.ts";
import { userPath } from "../lib/paths.ts";
import { writeReport } from "../lib/reproduce/report.ts";

const USAGE = `usage: deno task report --out DIR     (the folder given to deno task reproduce)`;

await runCli(async () => {
  const o = parseCli(Deno.args, { out: { type: "string" } }, USAGE);
  if (!o.out) throw new KitError("--out DIR is required");
  await writeReport(userPath(o.out));
});
