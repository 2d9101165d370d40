#!/usr/bin/env bash
# Rebuilds the DejaVu Sans subsets in this folder from Debian's fonts-dejavu-core package
# (2.37, /usr/share/fonts/truetype/dejavu) with the npm package subset-font (harfbuzz hb-subset,
# compiled to wasm). The subset keeps the characters that figure text uses: Basic Latin,
# Latin-1, Latin Extended-A, Greek, general punctuation, super/subscripts, arrows and common
# math symbols (× − ≤ ≥ ≈ √ ∞ ...). Needs node and npm.
#   bash data/fonts/make_subset.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=/usr/share/fonts/truetype/dejavu
[ -f "$src/DejaVuSans.ttf" ] || { echo "install Debian's fonts-dejavu-core first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --silent --no-audit --no-fund --prefix "$tmp" subset-font@2.9.0
cat >"$tmp/subset.mjs" <<'JS'
import { readFileSync, writeFileSync } from "node:fs";
import subsetFont from "subset-font";
const ranges = [
  [0x20, 0x7e], [0xa0, 0xff], [0x100, 0x17f], [0x391, 0x3a9], [0x3b1, 0x3c9],
  [0x2010, 0x2027], [0x2030, 0x203a], [0x2070, 0x209c], [0x2190, 0x2195],
  [0x2200, 0x2248], [0x2260, 0x2265], [0x22c5, 0x22c5], [0x2080, 0x2089],
];
let text = "";
for (const [a, b] of ranges) for (let c = a; c <= b; c++) text += String.fromCodePoint(c);
const [src, dst] = process.argv.slice(2);
writeFileSync(dst, await subsetFont(readFileSync(src), text, { targetFormat: "truetype" }));
JS
for face in DejaVuSans DejaVuSans-Bold; do
  node "$tmp/subset.mjs" "$src/$face.ttf" "$here/$face-subset.ttf"
done
ls -l "$here"/*.ttf
