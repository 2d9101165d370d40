/** The tasks the kit evaluates, by name. */
import { KitError } from "../../errors.ts";
import type { Task } from "../task.ts";
import { arcChallenge, arcEasy } from "./arc.ts";
import { hellaswag } from "./hellaswag.ts";
import { lambadaOpenai } from "./lambada.ts";
import { piqa } from "./piqa.ts";
import { quambaWikitext2, wikitext } from "./wikitext.ts";
import { winogrande } from "./winogrande.ts";

/** Every task, in the order of Quamba's tables. */
export const TASKS: readonly Task<unknown>[] = [
  lambadaOpenai,
  hellaswag,
  piqa,
  arcEasy,
  arcChallenge,
  winogrande,
  wikitext,
  quambaWikitext2,
] as Task<unknown>[];

/** The task called `name`, or an error listing the known ones. */
export function getTask(name: string): Task<unknown> {
  const t = TASKS.find((t) => t.name === name);
  if (!t) {
    throw new KitError(`unknown task '${name}' (known: ${TASKS.map((t) => t.name).join(", ")})`);
  }
  return t;
}
