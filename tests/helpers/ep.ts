/** The execution provider the model tests run on: `$QUAMBA_TEST_EP` (default cpu). */
import { type Ep, parseEp } from "../../lib/runtime.ts";

export const TEST_EP: Ep = parseEp(Deno.env.get("QUAMBA_TEST_EP") ?? "cpu");
