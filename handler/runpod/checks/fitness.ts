/**
 * Measurements behind the start-up checks (`startup-checks.ts`): the GPUs `nvidia-smi` lists, the memory available
 * to this container, the free space of a folder's filesystem. Each reads the machine; none decides pass or fail.
 *
 * Public sources of what is measured, and how (runpod-python v1.12.0):
 * - GPUs: `runpod/serverless/modules/rp_gpu_fitness.py` `_run_gpu_test_fallback` runs `nvidia-smi --list-gpus`
 *   (timeout 10 s), fails on a non-zero exit or when it lists no GPU; `auto_register_gpu_check` registers the GPU
 *   check only when `nvidia-smi` runs (CPU-only machines skip it).
 * - Memory: `rp_system_fitness.py` `_get_memory_info`: psutil's `available`, else `/proc/meminfo` `MemAvailable` (kB),
 *   in GB of 1024³ bytes. This module also reads the cgroup limit (a container's own ceiling, which `/proc/meminfo`
 *   does not show) and takes the smaller.
 * - Disk: `rp_system_fitness.py` `_check_disk_space`: `shutil.disk_usage` (free = `f_bavail × f_frsize`, total =
 *   `f_blocks × f_frsize`), free % = free / total × 100.
 */
import { execFile } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { access, readFile, stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Bytes in a GiB (runpod-python's "GB": 1024³). */
export const GIB = 1024 ** 3;

/**
 * The absolute path of `cmd` on `pathEnv` (`PATH`, `:`-separated), or null when no entry has an executable file of
 * that name.
 */
export async function findOnPath(cmd: string, pathEnv: string | undefined): Promise<string | null> {
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const p = path.join(dir, cmd);
    try {
      await access(p, fsc.X_OK);
      if ((await stat(p)).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** What `nvidia-smi --list-gpus` said. */
export type GpuListing = { ok: true; gpus: string[] } | { ok: false; error: string };

/**
 * Runs `<nvidiaSmi> --list-gpus` and returns its `GPU <i>: <name> (UUID: …)` lines.
 * @param timeoutMs kill it after this long (runpod-python: 10 s)
 * @returns the GPU lines, or the failure (non-zero exit with its stderr, a timeout, a spawn error); never throws
 */
export function listGpus(nvidiaSmi: string, timeoutMs = 10_000): Promise<GpuListing> {
  return new Promise((resolve) => {
    execFile(nvidiaSmi, ['--list-gpus'], { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const detail = (stderr || stdout || '').trim().split('\n')[0] ?? '';
        let why: string;
        if (e.killed) why = `timed out after ${timeoutMs} ms`;
        else if (typeof e.code === 'number') why = `exited with code ${e.code}`;
        else why = e.message;
        resolve({ ok: false, error: detail ? `${why}: ${detail}` : why });
        return;
      }
      resolve({ ok: true, gpus: stdout.split('\n').map((l) => l.trim()).filter((l) => /^GPU \d+:/.test(l)) });
    });
  });
}

/** Memory available to new allocations, bytes, and where the figure came from. */
export interface MemoryInfo {
  /** Available bytes: the smaller of the machine's `MemAvailable` and the cgroup's limit minus its working set. */
  availableBytes: number;
  /** Total bytes: the machine's `MemTotal`, or the cgroup limit when smaller. */
  totalBytes: number;
  /** `meminfo`, `cgroup v2`, `cgroup v1` or `os.freemem` (no `/proc/meminfo`). */
  source: string;
}

/** Reads a file, or undefined when it cannot be read. */
async function readMaybe(p: string): Promise<string | undefined> {
  try {
    return await readFile(p, 'utf8');
  } catch {
    return undefined;
  }
}

/** `key value` lines (cgroup `memory.stat`, `/proc/meminfo` without the `kB`) → numbers. */
function keyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([\w()]+):?\s+(\d+)/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/**
 * The cgroup's memory ceiling and working set (usage minus inactive file cache, as the kubelet counts it), bytes;
 * undefined when there is no limit (`max`, or v1's "unlimited" huge value) or no cgroup files.
 */
async function cgroupMemory(cgroupRoot: string): Promise<{ limit: number; used: number; source: string } | undefined> {
  const v2max = await readMaybe(path.join(cgroupRoot, 'memory.max'));
  if (v2max !== undefined) {
    const limit = Number(v2max.trim());
    const current = Number((await readMaybe(path.join(cgroupRoot, 'memory.current')))?.trim());
    if (!Number.isFinite(limit) || !Number.isFinite(current)) return undefined;
    const inactive = keyValues((await readMaybe(path.join(cgroupRoot, 'memory.stat'))) ?? '').get('inactive_file') ?? 0;
    return { limit, used: Math.max(0, current - inactive), source: 'cgroup v2' };
  }
  const v1 = path.join(cgroupRoot, 'memory');
  const limit = Number((await readMaybe(path.join(v1, 'memory.limit_in_bytes')))?.trim());
  const usage = Number((await readMaybe(path.join(v1, 'memory.usage_in_bytes')))?.trim());
  // v1 reports "no limit" as a huge page-aligned number (e.g. 9223372036854771712).
  if (!Number.isFinite(limit) || !Number.isFinite(usage) || limit >= 2 ** 60) return undefined;
  const inactive = keyValues((await readMaybe(path.join(v1, 'memory.stat'))) ?? '').get('total_inactive_file') ?? 0;
  return { limit, used: Math.max(0, usage - inactive), source: 'cgroup v1' };
}

/**
 * The memory available to this container.
 * @param roots where `/proc` and `/sys/fs/cgroup` are (tests point them at fixture folders)
 */
export async function memoryInfo(roots: { proc?: string; cgroup?: string } = {}): Promise<MemoryInfo> {
  const meminfo = await readMaybe(path.join(roots.proc ?? '/proc', 'meminfo'));
  const kv = meminfo !== undefined ? keyValues(meminfo) : undefined;
  let info: MemoryInfo =
    kv?.has('MemAvailable') && kv.has('MemTotal')
      ? { availableBytes: kv.get('MemAvailable')! * 1024, totalBytes: kv.get('MemTotal')! * 1024, source: 'meminfo' }
      : { availableBytes: os.freemem(), totalBytes: os.totalmem(), source: 'os.freemem' };
  const cg = await cgroupMemory(roots.cgroup ?? '/sys/fs/cgroup');
  if (cg && cg.limit - cg.used < info.availableBytes) {
    info = { availableBytes: Math.max(0, cg.limit - cg.used), totalBytes: Math.min(cg.limit, info.totalBytes), source: cg.source };
  }
  return info;
}

/** Free and total space of a folder's filesystem, bytes, and the filesystem's device id (to measure each once). */
export interface DiskInfo {
  /** Bytes an unprivileged process may still write (`f_bavail × f_bsize`). */
  freeBytes: number;
  totalBytes: number;
  /** `free / total × 100` (0 when total is 0). */
  freePercent: number;
  /** `stat(folder).dev`: folders with the same value share the filesystem. */
  dev: number;
}

/**
 * Measures the filesystem of `folder`.
 * @throws the `statfs`/`stat` error (`ENOENT` when the folder does not exist)
 */
export async function diskInfo(folder: string): Promise<DiskInfo> {
  const [fsStat, st] = await Promise.all([statfs(folder), stat(folder)]);
  const freeBytes = fsStat.bavail * fsStat.bsize;
  const totalBytes = fsStat.blocks * fsStat.bsize;
  return { freeBytes, totalBytes, freePercent: totalBytes > 0 ? (100 * freeBytes) / totalBytes : 0, dev: st.dev };
}
