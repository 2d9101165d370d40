/** The machine and software a measurement ran on, recorded with every result. */
import { ortLibrary } from "../ort/mod.ts";
import { KIT_VERSION } from "../version.ts";
import { readProcFile } from "../proc_files.ts";

export interface BenchEnv {
  cpu: string;
  /** logical CPUs this process may use */
  cores: number;
  /** SIMD features onnxruntime's kernels use, from /proc/cpuinfo */
  flags: { avx2: boolean; avx512: boolean; vnni: boolean; amx: boolean; f16c: boolean };
  /** 1, 5 and 15 minute load averages when the measurement started */
  load: number[];
  memTotalBytes?: number;
  os: string;
  deno: string;
  ort: string;
  kit: string;
  date: string;
}

/** `flags` of /proc/cpuinfo's first processor, as a set. */
export function cpuFlags(cpuinfo: string): Set<string> {
  return new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "").split(/\s+/).filter(Boolean));
}

/** A /proc file's text ("" where unknown), through the C library (lib/proc_files.ts). */
function readText(path: string): string {
  return readProcFile(path) ?? "";
}

/** The 1, 5 and 15 minute load averages (empty where unknown). */
export function loadAverage(): number[] {
  return readText("/proc/loadavg").split(/\s+/).slice(0, 3).filter(Boolean).map(Number);
}

/** Describes this machine and the software stack. */
export function benchEnv(): BenchEnv {
  const info = readText("/proc/cpuinfo");
  const f = cpuFlags(info);
  const mem = /^MemTotal:\s+(\d+) kB/m.exec(readText("/proc/meminfo"));
  return {
    cpu: /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    flags: {
      avx2: f.has("avx2"),
      avx512: f.has("avx512f"),
      vnni: f.has("avx512_vnni") || f.has("avx_vnni"),
      amx: f.has("amx_int8"),
      f16c: f.has("f16c"),
    },
    load: loadAverage(),
    memTotalBytes: mem ? Number(mem[1]) * 1024 : undefined,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    ort: ortLibrary().version,
    kit: KIT_VERSION,
    date: new Date().toISOString(),
  };
}

/** One line: `AMD EPYC, 2 cores (AVX2 AVX-512 VNNI), load 0.7, onnxruntime 1.30.0`; without
 * the load average when `load` is false (for figures: it counts this process too). */
export function envLine(env: BenchEnv, load = true): string {
  const flags = [
    env.flags.avx2 && "AVX2",
    env.flags.avx512 && "AVX-512",
    env.flags.vnni && "VNNI",
    env.flags.amx && "AMX",
  ].filter(Boolean).join(" ");
  const avg = load ? `, load ${env.load.map((x) => x.toFixed(2)).join(" ")}` : "";
  return `${env.cpu}, ${env.cores} cores (${
    flags || "no AVX2"
  })${avg}, onnxruntime ${env.ort}, deno ${env.deno}`;
}

/** Busy and total jiffies of all CPUs, from /proc/stat's first line. */
function cpuJiffies(): { busy: number; total: number } | undefined {
  const line = readText("/proc/stat").split("\n")[0];
  if (!line.startsWith("cpu ")) return undefined;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU jiffies used by this process so far (user + system, children excluded). */
function ownJiffies(): number {
  const s = readText("/proc/self/stat");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/**
 * How many cores other processes keep busy, measured over `ms` while this process waits:
 * the machine's busy time minus this process's own, as a number of cores (0 = idle machine).
 * Undefined where /proc is missing.
 */
export async function foreignLoad(ms = 1000): Promise<number | undefined> {
  const a = cpuJiffies(), oa = ownJiffies();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuJiffies(), ob = ownJiffies();
  if (!a || !b || b.total === a.total) return undefined;
  const cores = navigator.hardwareConcurrency;
  const elapsed = (performance.now() - t0) / 1000;
  const busyJ = Math.max(0, (b.busy - a.busy) - (ob - oa));
  return Math.min(cores, busyJ / ((b.total - a.total) / cores) * (elapsed > 0 ? 1 : 0));
}
