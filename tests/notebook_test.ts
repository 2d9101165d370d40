import assert from "node:assert/strict";
import { tableFromArrays } from "apache-arrow";
import { display, type MimeBundle, showSvg, showTable } from "../lib/notebook/mod.ts";

const bundle = (d: unknown): MimeBundle =>
  (d as Record<symbol, () => MimeBundle>)[Symbol.for("Jupyter.display")]();

Deno.test("notebook: showTable renders an Arrow table as HTML and aligned text", () => {
  const t = tableFromArrays({
    layer: Int32Array.from([0, 1, 2]),
    tensor: ["u", "y<z>", "y_had"],
    value: Float64Array.from([12.3456789, 0.0000123, 250000]),
  });
  const b = bundle(showTable(t, { maxRows: 2, caption: "scalars" }));
  assert.deepEqual(Object.keys(b).sort(), ["text/html", "text/plain"]);
  const html = b["text/html"];
  assert.match(html, /<p><b>scalars<\/b><\/p>/);
  assert.match(html, /<th style="text-align:right">layer<\/th><th>tensor<\/th>/);
  assert.equal(html.match(/<tr>/g)!.length, 3); // header + 2 rows
  assert.match(html, /<td>y&lt;z&gt;<\/td>/);
  assert.match(html, /<td style="text-align:right">12\.35<\/td>/);
  assert.match(html, /1\.230e-5/);
  assert.match(html, /… 1 more rows \(3 in all\)/);
  assert.equal(
    b["text/plain"],
    "scalars\nlayer  tensor     value\n    0  u          12.35\n    1  y<z>    1.230e-5\n" +
      "… 1 more rows (3 in all)",
  );
});

Deno.test("notebook: showTable takes row objects and a column choice", () => {
  const rows = [{ a: 1, b: "x", c: true }, { a: 2, b: "y", c: false }];
  const b = bundle(showTable(rows, { columns: ["b", "a"] }));
  assert.match(b["text/html"], /<thead><tr><th>b<\/th><th style="text-align:right">a<\/th>/);
  assert.doesNotMatch(b["text/html"], /more rows|<th>c<\/th>/);
  assert.equal(String(showTable(rows, { columns: ["b", "a"] })), "b  a\nx  1\ny  2");
});

Deno.test("notebook: showSvg gives the SVG as image/svg+xml and its title as text", () => {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg"><text font-weight="bold">A &amp; B</text></svg>';
  const b = bundle(showSvg(svg));
  assert.equal(b["image/svg+xml"], svg);
  assert.equal(b["text/plain"], "[SVG A & B]");
});

Deno.test("notebooks: committed without outputs (scripts/run_notebooks.sh executes copies)", async () => {
  const dir = new URL("../notebooks/", import.meta.url);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".ipynb"));
  assert.ok(names.includes("01_outliers.ipynb"));
  for (const name of names) {
    const nb = JSON.parse(await Deno.readTextFile(new URL(name, dir)));
    assert.equal(nb.metadata.kernelspec.name, "deno", name);
    for (const c of nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code")) {
      assert.deepEqual(c.outputs, [], `${name}: cell ${c.id} has outputs`);
      assert.equal(c.execution_count, null, `${name}: cell ${c.id} has an execution count`);
    }
  }
});

Deno.test("notebook: display prints the text form outside a notebook", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    await display(showTable([{ a: 1 }]));
  } finally {
    console.log = log;
  }
  assert.deepEqual(lines, ["a\n1"]);
});
