/**
 * Writes data/heldout/time_machine.txt from Project Gutenberg's plain text of *The Time Machine*
 * (pg35; public domain): the body between the START and END markers, each paragraph on one line,
 * paragraphs separated by a blank line (the embedded model's training text was prepared the same
 * way; this book was held out of its training); the first paragraphs up to 60,000 characters
 * (about 16,800 tokens: the tools read the first 8,193 by default), to keep the repository small.
 *
 *   deno run -A scripts/make_heldout.ts ../shared/data/english_corpus/gutenberg_gitenberg/pg35_The-Time-Machine.txt
 */
const src = Deno.args[0];
if (!src) throw new Error("usage: make_heldout.ts PATH/pg35_The-Time-Machine.txt");
const text = (await Deno.readTextFile(src)).replace(/\r\n/g, "\n");
const start = text.indexOf("\n", text.indexOf("*** START OF")) + 1;
const end = text.indexOf("*** END OF");
const paragraphs = text.slice(start, end).split(/\n\s*\n/).map((p) =>
  p.split("\n").map((l) => l.trim()).join(" ").trim()
).filter((p) => p && !p.startsWith("End of Project Gutenberg"));
const kept: string[] = [];
let chars = 0;
for (const p of paragraphs) {
  if (chars + p.length + 2 > 60000) break;
  kept.push(p);
  chars += p.length + 2;
}
const out = new URL("../data/heldout/time_machine.txt", import.meta.url);
await Deno.writeTextFile(out, kept.join("\n\n") + "\n");
console.log(
  `${kept.length} of ${paragraphs.length} paragraphs, ${kept.join("\n\n").length} characters`,
);
