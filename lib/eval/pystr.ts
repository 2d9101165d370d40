/**
 * Python's string rules where lm-eval relies on them: `str.isspace` (what `rstrip()`/`strip()`
 * remove and `re` `\s` matches), `str.capitalize`, and `len` in code points.
 */

/** Code points for which Python's `str.isspace()` is true (checked against Python 3.12). */
export const PY_WHITESPACE: readonly number[] = [
  0x09,
  0x0a,
  0x0b,
  0x0c,
  0x0d,
  0x1c,
  0x1d,
  0x1e,
  0x1f,
  0x20,
  0x85,
  0xa0,
  0x1680,
  0x2000,
  0x2001,
  0x2002,
  0x2003,
  0x2004,
  0x2005,
  0x2006,
  0x2007,
  0x2008,
  0x2009,
  0x200a,
  0x2028,
  0x2029,
  0x202f,
  0x205f,
  0x3000,
];

const WS = new Set(PY_WHITESPACE.map((c) => String.fromCodePoint(c)));
const WS_CLASS = PY_WHITESPACE.map((c) => `\\u{${c.toString(16)}}`).join("");
const WS_RUN = new RegExp(`[${WS_CLASS}]+`, "u");

/** Python's `s.rstrip()`: `s` without trailing whitespace. */
export function pyRstrip(s: string): string {
  let end = s.length;
  while (end > 0 && WS.has(s[end - 1])) end--;
  return s.slice(0, end);
}

/** Python's `s.strip()`. */
export function pyStrip(s: string): string {
  let start = 0;
  while (start < s.length && WS.has(s[start])) start++;
  return pyRstrip(s.slice(start));
}

/** Python's `s.capitalize()`: the first character upper case, all the others lower case. */
export function pyCapitalize(s: string): string {
  const chars = Array.from(s);
  if (chars.length === 0) return s;
  return chars[0].toUpperCase() + chars.slice(1).join("").toLowerCase();
}

/** Python's `len(s)`: the number of code points (not UTF-16 units). */
export function pyLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Python's `len(re.split(r"\s+", s))`: lm-eval's word count (empty ends count). */
export function pyWordCount(s: string): number {
  return s.split(WS_RUN).length;
}
