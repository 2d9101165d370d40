/**
 * Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol with Deno's
 * own WebSocket: open a page, collect its console errors, page errors and network requests,
 * evaluate expressions and take screenshots. No npm browser driver needed.
 */
import { join } from "node:path";

/** The flags the workplace notes ask for, plus a DevTools port chosen by Chromium. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
  "--remote-debugging-port=0",
];

/** The Chromium binary: `$CHROMIUM`, else the first of chromium, chromium-browser on PATH. */
export async function findChromium(): Promise<string | null> {
  const env = Deno.env.get("CHROMIUM");
  if (env) return await Deno.stat(env).then(() => env, () => null);
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      try {
        const p = join(dir, name);
        if ((await Deno.stat(p)).isFile) return p;
      } catch { /* not here */ }
    }
  }
  return null;
}

/** The message a test fails with when there is no Chromium. */
export const NO_CHROMIUM = "headless Chromium not found: install Debian's package " +
  "(as root: apt-get update && apt-get install -y chromium) or set CHROMIUM=/path/to/chromium";

type Json = Record<string, unknown>;

/** One page in a headless Chromium, with what it logged. */
export class Page {
  /** Uncaught exceptions, console.error/assert calls and error log entries, as text. */
  readonly errors: string[] = [];
  /** The URL of every request the page made. */
  readonly requests: string[] = [];
  #ws: WebSocket;
  #child: Deno.ChildProcess;
  #profile: string;
  #session = "";
  #next = 1;
  #pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  #waiters: { method: string; resolve: (v: Json) => void }[] = [];

  private constructor(ws: WebSocket, child: Deno.ChildProcess, profile: string) {
    this.#ws = ws;
    this.#child = child;
    this.#profile = profile;
    ws.onmessage = (e) => this.#onMessage(JSON.parse(e.data));
  }

  /**
   * Starts Chromium (a fresh profile) with a `width` × `height` viewport.
   *
   * @example
   * ```ts
   * const page = await Page.launch({ width: 1200, height: 900 });
   * await page.goto("file:///tmp/report.html");
   * await page.close();
   * ```
   */
  static async launch(opts: { width?: number; height?: number } = {}): Promise<Page> {
    const bin = await findChromium();
    if (!bin) throw new Error(NO_CHROMIUM);
    const profile = await Deno.makeTempDir({ prefix: "quamba-chromium-" });
    const child = new Deno.Command(bin, {
      args: [...FLAGS, `--user-data-dir=${profile}`, "about:blank"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const portFile = join(profile, "DevToolsActivePort");
    let lines: string[] = [];
    for (let i = 0; i < 300 && lines.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lines = await Deno.readTextFile(portFile).then((t) => t.trim().split("\n")).catch(() => []);
    }
    if (lines.length < 2) {
      child.kill();
      await child.status;
      throw new Error(`${bin} did not open its DevTools port within 30 s`);
    }
    const ws = new WebSocket(`ws://127.0.0.1:${lines[0]}${lines[1]}`);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("could not connect to Chromium's DevTools"));
    });
    const page = new Page(ws, child, profile);
    const { targetId } = await page.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await page.send("Target.attachToTarget", { targetId, flatten: true });
    page.#session = sessionId as string;
    for (const domain of ["Runtime", "Log", "Page", "Network"]) await page.send(`${domain}.enable`);
    await page.send("Emulation.setDeviceMetricsOverride", {
      width: opts.width ?? 1200,
      height: opts.height ?? 900,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return page;
  }

  #onMessage(msg: Json) {
    if (typeof msg.id === "number") {
      const p = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(JSON.stringify(msg.error)));
      else p?.resolve((msg.result ?? {}) as Json);
      return;
    }
    const params = (msg.params ?? {}) as Json;
    switch (msg.method) {
      case "Runtime.exceptionThrown": {
        const d = params.exceptionDetails as Json;
        const ex = d.exception as Json | undefined;
        this.errors.push(`page error: ${ex?.description ?? d.text}`);
        break;
      }
      case "Runtime.consoleAPICalled":
        if (params.type === "error" || params.type === "assert") {
          const args = (params.args as Json[]).map((a) => a.value ?? a.description ?? "");
          this.errors.push(`console.${params.type}: ${args.join(" ")}`);
        }
        break;
      case "Log.entryAdded": {
        const e = params.entry as Json;
        if (e.level === "error") this.errors.push(`log: ${e.text} ${e.url ?? ""}`.trim());
        break;
      }
      case "Network.requestWillBeSent":
        this.requests.push(String((params.request as Json).url));
        break;
    }
    this.#waiters = this.#waiters.filter((w) => {
      if (w.method !== msg.method) return true;
      w.resolve(params);
      return false;
    });
  }

  /** Sends a DevTools command (to the page's session once attached). */
  send(method: string, params: Json = {}): Promise<Json> {
    const id = this.#next++;
    const msg: Json = { id, method, params };
    if (this.#session) msg.sessionId = this.#session;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify(msg));
    });
  }

  #event(method: string, timeoutMs: number): Promise<Json> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      new Promise<Json>((resolve) => this.#waiters.push({ method, resolve })),
      new Promise<Json>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${method} in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Opens `url` and waits for its load event. */
  async goto(url: string, timeoutMs = 20_000): Promise<void> {
    const loaded = this.#event("Page.loadEventFired", timeoutMs);
    const r = await this.send("Page.navigate", { url });
    if (r.errorText) throw new Error(`${url}: ${r.errorText}`);
    await loaded;
  }

  /** The value of a JavaScript expression in the page (promises awaited). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (r.exceptionDetails) {
      throw new Error(`evaluate: ${JSON.stringify(r.exceptionDetails)}`);
    }
    return (r.result as Json).value as T;
  }

  /** A PNG of the page: the viewport, the whole page (`fullPage`) or a rectangle (`clip`). */
  async screenshot(
    opts: { fullPage?: boolean; clip?: { x: number; y: number; width: number; height: number } } =
      {},
  ): Promise<Uint8Array> {
    let clip: Json | undefined = opts.clip ? { ...opts.clip, scale: 1 } : undefined;
    if (opts.fullPage) {
      const m = await this.send("Page.getLayoutMetrics");
      const size = m.cssContentSize as { width: number; height: number };
      clip = { x: 0, y: 0, width: size.width, height: size.height, scale: 1 };
    }
    const r = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: !!(opts.fullPage || opts.clip),
      ...(clip ? { clip } : {}),
    });
    return Uint8Array.from(atob(r.data as string), (c) => c.charCodeAt(0));
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    this.#session = "";
    try {
      await Promise.race([
        this.send("Browser.close"),
        new Promise((r) => setTimeout(r, 3000)),
      ]);
    } catch { /* already gone */ }
    this.#ws.close();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await this.#child.status;
    clearTimeout(timer);
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}
