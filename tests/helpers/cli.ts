/**
 * Runs a `deno task` as a user would, but without the task runner: the script and permission
 * flags come from the task's line in deno.json (so a test also checks that the task's
 * permissions suffice), the working folder is the kit's, and `INIT_CWD` says where the "user"
 * is.
 */
import { join } from "node:path";
import { KIT_ROOT } from "../../lib/paths.ts";

/** The `deno run`/`deno test` words of a task, e.g. `["run", "--allow-read", ..., "scripts/x.ts"]`. */
export function taskCommand(task: string): string[] {
  const cfg = JSON.parse(Deno.readTextFileSync(join(KIT_ROOT, "deno.json")));
  const line: string | undefined = cfg.tasks?.[task];
  if (!line) throw new Error(`deno.json has no task '${task}'`);
  const words = line.split(/\s+/);
  if (words[0] !== "deno") throw new Error(`task '${task}' does not start with deno: ${line}`);
  return words.slice(1);
}

export interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall seconds the process ran. */
  seconds: number;
}

/**
 * Runs `deno task <task> <args>`.
 *
 * @example
 * ```ts
 * const r = await runTask("quantize", ["--method", "quamba", "--out", "q"], { cwd: tmp });
 * ```
 */
export async function runTask(
  task: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<TaskRun> {
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [...taskCommand(task), ...args],
    cwd: KIT_ROOT,
    env: { NO_COLOR: "1", ...(options.cwd ? { INIT_CWD: options.cwd } : {}), ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    seconds: (performance.now() - t0) / 1000,
  };
}
