/// <reference lib="deno.worker" />
/** One thread of the copy benchmark (lib/bench/bandwidth.ts): copies its own buffer on request. */
let src: Float32Array | undefined, dst: Float32Array | undefined;
self.onmessage = (ev: MessageEvent<{ bytes?: number; reps?: number }>) => {
  const { bytes, reps } = ev.data;
  if (bytes !== undefined) {
    src = new Float32Array(bytes / 4).fill(1);
    dst = new Float32Array(bytes / 4);
    dst.set(src); // touch every page before timing
    self.postMessage({ ready: true });
    return;
  }
  const t = performance.now();
  for (let r = 0; r < (reps ?? 1); r++) dst!.set(src!);
  self.postMessage({ ms: performance.now() - t });
};
