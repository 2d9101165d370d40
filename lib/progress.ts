/**
 * A progress bar for long work: on a terminal it redraws one line; elsewhere (CI, logs,
 * notebooks) it prints a line at most every few seconds, so logs stay short. In a notebook (Deno's
 * Jupyter kernel) the lines go through `console.error`, which the kernel shows as the cell's
 * stderr; raw writes to `Deno.stderr` would only reach the kernel's own log.
 */

export interface ProgressOptions {
  /** Where to draw; default stderr (in a notebook: `console.error`, shown under the cell). */
  write?: (text: string) => void;
  /** Force the line-redrawing mode on or off (default: stderr is a terminal). */
  tty?: boolean;
  /** Seconds between lines when not on a terminal. Default 5 (2 in a notebook). */
  every?: number;
}

/**
 * Counts done items of a known total and shows rate and ETA.
 *
 * @example
 * ```ts
 * const bar = new Progress("calibrating", 512);
 * for (let i = 0; i < 512; i++) bar.tick();
 * bar.done();
 * ```
 */
export class Progress {
  private n = 0;
  private readonly start = performance.now();
  private last = 0;
  private readonly write: (text: string) => void;
  private readonly tty: boolean;
  private readonly every: number;

  constructor(readonly label: string, readonly total: number, options: ProgressOptions = {}) {
    const enc = new TextEncoder(), notebook = inJupyter();
    this.write = options.write ??
      (notebook
        ? (t) => console.error(t.replace(/\n$/, ""))
        : (t) => Deno.stderr.writeSync(enc.encode(t)));
    this.tty = options.tty ?? (!notebook && Deno.stderr.isTerminal());
    this.every = (options.every ?? (notebook ? 2 : 5)) * 1000;
  }

  /** Marks `k` more items done, with an optional note (e.g. the current item). */
  tick(k = 1, note = ""): void {
    this.n += k;
    const now = performance.now();
    if (this.tty ? now - this.last < 100 : now - this.last < this.every) return;
    this.last = now;
    this.show(note);
  }

  /** The current line: `label [####----] 12/100 12% 3.1/s ETA 28s`. */
  line(note = ""): string {
    const secs = (performance.now() - this.start) / 1000;
    const frac = this.total ? Math.min(1, this.n / this.total) : 1;
    const width = 24, full = Math.round(frac * width);
    const rate = secs > 0 ? this.n / secs : 0;
    const eta = rate > 0 ? (this.total - this.n) / rate : NaN;
    return `${this.label} [${"#".repeat(full)}${
      "-".repeat(width - full)
    }] ${this.n}/${this.total} ` +
      `${(frac * 100).toFixed(0)}% ${rate.toFixed(rate < 10 ? 2 : 0)}/s ` +
      `${this.n < this.total ? `ETA ${formatSeconds(eta)}` : `in ${formatSeconds(secs)}`}${
        note ? ` ${note}` : ""
      }`;
  }

  private show(note: string): void {
    this.write(this.tty ? `\r\x1b[2K${this.line(note)}` : `${this.line(note)}\n`);
  }

  /** Prints the final line. */
  done(note = ""): void {
    this.write(this.tty ? `\r\x1b[2K${this.line(note)}\n` : `${this.line(note)}\n`);
  }
}

/** `75` → `1m15s`; NaN → `?`. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 59.5) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const whole = Math.round(s); // round once, so 179.7 s is 3m00s, not 2m60s
  const m = Math.floor(whole / 60);
  if (m < 60) return `${m}m${(whole % 60).toString().padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${(m % 60).toString().padStart(2, "0")}m`;
}

/**
 * Whether this code runs in Deno's Jupyter kernel (`deno jupyter`), where `Deno.jupyter` exists
 * (elsewhere reading it throws).
 *
 * @example
 * ```ts
 * if (inJupyter()) console.error("shown under the notebook cell");
 * ```
 */
export function inJupyter(): boolean {
  try {
    return typeof (Deno as unknown as { jupyter?: unknown }).jupyter === "object";
  } catch {
    return false;
  }
}
