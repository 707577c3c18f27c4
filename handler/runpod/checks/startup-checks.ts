/**
 * Start-up checks, run once in platform mode before the worker waits for A1111 (as runpod-python runs its fitness
 * checks before the heartbeat and the job loop: `runpod/serverless/worker.py` `run_worker` →
 * `rp_fitness.run_fitness_checks()`; not in local or test mode). They run in order and stop at the first failure,
 * which is logged (`Start-up check failed: <check> | <measured value and threshold>`), reported to RunPod as
 * unhealthy (`unhealthy.ts`) and ends the worker with exit code 1.
 *
 * | check | passes when | settings (default) | runpod-python counterpart |
 * |---|---|---|---|
 * | `gpu` | `nvidia-smi --list-gpus` exits 0 and lists at least one GPU per A1111 backend; skipped (logged) when `nvidia-smi` is not on `PATH` | `RUNPOD_SKIP_GPU_CHECK` (false) | `rp_gpu_fitness.py` (`nvidia-smi --list-gpus` fallback; skipped on CPU-only machines; same skip variable) |
 * | `memory` | available memory ≥ `RUNPOD_MIN_MEMORY_GB` GiB (the smaller of `MemAvailable` and the cgroup limit's headroom) | `RUNPOD_MIN_MEMORY_GB` (4) | `rp_system_fitness.py` `_check_memory_availability`, same variable and default |
 * | `disk` | each disk-check folder has ≥ `MIN_FREE_DISK_GB` GiB free and, except on the network volume, ≥ `RUNPOD_MIN_DISK_PERCENT` % of its filesystem free | `DISK_CHECK_PATHS` (A1111's folder, the network volume, the temp folder: those that exist), `MIN_FREE_DISK_GB` (1), `RUNPOD_MIN_DISK_PERCENT` (10) | `_check_disk_space` checks `/` only, ≥ `RUNPOD_MIN_DISK_PERCENT` (10) % free |
 *
 * `RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true` skips `memory` and `disk` (runpod-python: skips its system checks). Not
 * ported: runpod-python's network check (a TCP connect to 8.8.8.8:53; A1111 needs no internet, and the heartbeat
 * proves the link to RunPod) and its CUDA version / init / matmul checks (they need torch; A1111's own start and the
 * warm-up generation exercise CUDA for real).
 */
import os from 'node:os';
import path from 'node:path';
import type { StartupCheckConfig } from '../../config.js';
import type { Log } from '../../log.js';
import { diskInfo, findOnPath, GIB, listGpus, memoryInfo } from './fitness.js';
import { StartupCheckError } from '../../errors/index.js';

/** Where the checks look (tests point them at fixtures and fake programs). */
export interface CheckDeps {
  /** `PATH` searched for `nvidia-smi` (default `process.env.PATH`). */
  pathEnv?: string | undefined;
  /** Roots of `/proc` and `/sys/fs/cgroup` (default the real ones). */
  roots?: { proc?: string; cgroup?: string };
  /** Timeout of `nvidia-smi`, ms (default 10000, as runpod-python). */
  gpuTimeoutMs?: number;
}

/** A check that did not fail: what it measured, or why it was skipped. */
interface CheckPass {
  skipped: boolean;
  message: string;
}

const gib = (bytes: number): string => `${(bytes / GIB).toFixed(2)} GiB`;

/** `gpu`: `nvidia-smi --list-gpus` when it is on PATH. @throws StartupCheckError */
export async function checkGpu(cfg: StartupCheckConfig, deps: CheckDeps = {}): Promise<CheckPass> {
  if (cfg.skipGpu) return { skipped: true, message: 'GPU check skipped (RUNPOD_SKIP_GPU_CHECK=true).' };
  const smi = await findOnPath('nvidia-smi', 'pathEnv' in deps ? deps.pathEnv : process.env.PATH);
  if (!smi) return { skipped: true, message: 'GPU check skipped: nvidia-smi is not on PATH (no NVIDIA driver visible in this container).' };
  const r = await listGpus(smi, deps.gpuTimeoutMs ?? 10_000);
  if (!r.ok) throw new StartupCheckError('gpu', `nvidia-smi --list-gpus failed (${smi}): ${r.error}; at least ${cfg.gpusNeeded} GPU(s) required`);
  const n = r.gpus.length;
  if (n < cfg.gpusNeeded) {
    const why = cfg.gpusNeeded > 1 ? ` (one per A1111 backend of A1111_URLS)` : '';
    throw new StartupCheckError('gpu', `${n} GPU(s) listed by nvidia-smi --list-gpus, ${cfg.gpusNeeded} required${why}`);
  }
  return { skipped: false, message: `GPU check passed: ${n} GPU(s) listed by nvidia-smi (${r.gpus.map((g) => g.replace(/ \(UUID: [^)]*\)/, '')).join('; ')}).` };
}

/** `memory`: available memory against `RUNPOD_MIN_MEMORY_GB`. @throws StartupCheckError */
export async function checkMemory(cfg: StartupCheckConfig, deps: CheckDeps = {}): Promise<CheckPass> {
  if (cfg.skipSystem) return { skipped: true, message: 'Memory check skipped (RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true).' };
  const m = await memoryInfo(deps.roots);
  const measured = `${gib(m.availableBytes)} available (of ${gib(m.totalBytes)}, ${m.source})`;
  if (m.availableBytes < cfg.minMemoryGb * GIB) {
    throw new StartupCheckError('memory', `${measured}, RUNPOD_MIN_MEMORY_GB=${cfg.minMemoryGb} GiB required`);
  }
  return { skipped: false, message: `Memory check passed: ${measured}; RUNPOD_MIN_MEMORY_GB=${cfg.minMemoryGb}.` };
}

/** The folders the disk check measures: `DISK_CHECK_PATHS`, or the defaults that exist. */
async function diskFolders(cfg: StartupCheckConfig): Promise<Array<{ folder: string; explicit: boolean }>> {
  const list = cfg.diskPaths ?? [cfg.a1111Dir, cfg.volumePath, os.tmpdir()];
  const seen = new Set<string>();
  return list.filter((p) => !seen.has(p) && seen.add(p)).map((folder) => ({ folder, explicit: cfg.diskPaths !== null }));
}

/** True when `folder` is the network volume or inside it. */
function onVolume(cfg: StartupCheckConfig, folder: string): boolean {
  const rel = path.relative(cfg.volumePath, folder);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** `disk`: free space of each disk-check folder. @throws StartupCheckError */
export async function checkDisk(cfg: StartupCheckConfig): Promise<CheckPass> {
  if (cfg.skipSystem) return { skipped: true, message: 'Disk check skipped (RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true).' };
  const passed: string[] = [];
  for (const { folder, explicit } of await diskFolders(cfg)) {
    let d;
    try {
      d = await diskInfo(folder);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (!explicit && err.code === 'ENOENT') continue; // a default folder this machine does not have
      throw new StartupCheckError('disk', `${folder} cannot be measured (${err.code ?? err.message})${explicit ? ' (listed in DISK_CHECK_PATHS)' : ''}`);
    }
    const measured = `${folder} has ${gib(d.freeBytes)} free (${d.freePercent.toFixed(1)} % of ${gib(d.totalBytes)})`;
    if (d.freeBytes < cfg.minFreeDiskGb * GIB) throw new StartupCheckError('disk', `${measured}, MIN_FREE_DISK_GB=${cfg.minFreeDiskGb} GiB required`);
    const volume = onVolume(cfg, folder);
    if (!volume && d.freePercent < cfg.minDiskPercent) {
      throw new StartupCheckError('disk', `${measured}, RUNPOD_MIN_DISK_PERCENT=${cfg.minDiskPercent} % required`);
    }
    passed.push(`${measured}${volume ? ', network volume: % rule not applied' : ''}`);
  }
  if (passed.length === 0) return { skipped: true, message: 'Disk check skipped: none of the disk-check folders exists.' };
  return { skipped: false, message: `Disk check passed: ${passed.join('; ')}; MIN_FREE_DISK_GB=${cfg.minFreeDiskGb}, RUNPOD_MIN_DISK_PERCENT=${cfg.minDiskPercent}.` };
}

/**
 * Runs `gpu`, `memory` and `disk` in that order (runpod-python registers its GPU check before the system checks),
 * logging each result, and stops at the first failure.
 * @returns the failure (already logged as `Start-up check failed: <check> | <message>`), or undefined when all passed
 */
export async function runStartupChecks(cfg: StartupCheckConfig, log: Log, deps: CheckDeps = {}): Promise<StartupCheckError | undefined> {
  const t0 = performance.now();
  const checks: Array<[string, () => Promise<CheckPass>]> = [
    ['gpu', () => checkGpu(cfg, deps)],
    ['memory', () => checkMemory(cfg, deps)],
    ['disk', () => checkDisk(cfg)],
  ];
  log.info(`Running ${checks.length} start-up check(s)...`);
  for (const [name, run] of checks) {
    try {
      const r = await run();
      log.info(r.message);
    } catch (e) {
      const err = e instanceof StartupCheckError ? e : new StartupCheckError(name as StartupCheckError['check'], `check failed: ${(e as Error).message}`);
      log.error(`Start-up check failed: ${err.check} | ${err.message}`);
      return err;
    }
  }
  log.info(`All start-up checks passed. (${(performance.now() - t0).toFixed(2)}ms)`);
  return undefined;
}
