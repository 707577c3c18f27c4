/**
 * The start-up checks (`handler/runpod/checks/`: `startup-checks.ts`, `fitness.ts`; the settings from `config.ts`) on fixture `/proc` and cgroup folders, the
 * real temp folder and fake `nvidia-smi` programs; the unhealthy report's URL and check names (`unhealthy.ts`,
 * `urls.ts`); the version strings (`version.ts`).
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { A1111Error, A1111ExitedError } from '../../handler/errors/index.js';
import type { Log } from '../../handler/log.js';
import { GIB, memoryInfo } from '../../handler/runpod/checks/fitness.js';
import { loadStartupCheckConfig, type StartupCheckConfig } from '../../handler/config.js';
import { checkDisk, checkGpu, checkMemory, runStartupChecks } from '../../handler/runpod/checks/startup-checks.js';
import { StartupCheckError, WarmupError } from '../../handler/errors/index.js';
import { resolvePingUrl, unhealthyUrl } from '../../handler/runpod/platform/urls.js';
import { classifyFatal, RUNPOD_VERSION, userAgent, WORKER_NAME, WORKER_VERSION } from '../../handler/runpod/index.js';
import { ROOT } from '../helpers/root.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fitness-unit-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The settings with every check on and thresholds that any machine meets, plus `over`. */
const cfg = (over: Partial<StartupCheckConfig> = {}): StartupCheckConfig => ({
  ...loadStartupCheckConfig({}, 1),
  minMemoryGb: 0,
  minDiskPercent: 0,
  minFreeDiskGb: 0,
  ...over,
});

/** Writes `files` (relative path → content) under a fresh folder and returns it. */
async function fixture(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(tmp, name);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A folder holding an executable `nvidia-smi` shell script with `body`; returns the folder (for PATH). */
async function fakeSmi(name: string, body: string): Promise<string> {
  const dir = await fixture(name, { 'nvidia-smi': `#!/bin/sh\n${body}\n` });
  await chmod(path.join(dir, 'nvidia-smi'), 0o755);
  return dir;
}

const meminfo = (totalKb: number, availableKb: number): string =>
  `MemTotal:       ${totalKb} kB\nMemFree:         1000 kB\nMemAvailable:   ${availableKb} kB\nBuffers:           0 kB\n`;

function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

/** The message of the StartupCheckError `p` rejects with, and its check. */
async function failure(p: Promise<unknown>): Promise<{ check: string; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StartupCheckError);
    return { check: (e as StartupCheckError).check, message: (e as Error).message };
  }
  throw new Error('the check passed');
}

describe('settings (runpod-python names and defaults where it has them)', () => {
  it('defaults: RUNPOD_MIN_MEMORY_GB 4, RUNPOD_MIN_DISK_PERCENT 10, MIN_FREE_DISK_GB 1, checks on, default folders, one GPU per backend', () => {
    expect(loadStartupCheckConfig({}, 2)).toEqual({
      skipGpu: false,
      skipSystem: false,
      minMemoryGb: 4,
      minDiskPercent: 10,
      minFreeDiskGb: 1,
      diskPaths: null,
      volumePath: '/runpod-volume',
      a1111Dir: '/stable-diffusion-webui',
      gpusNeeded: 2,
    });
  });

  it('reads every variable; bad values are configuration errors naming the variable, the value and the range', () => {
    const c = loadStartupCheckConfig(
      { RUNPOD_SKIP_GPU_CHECK: 'true', RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: 'TRUE', RUNPOD_MIN_MEMORY_GB: '8.5', RUNPOD_MIN_DISK_PERCENT: '15', MIN_FREE_DISK_GB: '20', DISK_CHECK_PATHS: ' /a , /b/c ,', A1111_VOLUME: '/vol', A1111_DIR: '/sd' },
      1,
    );
    expect(c).toMatchObject({ skipGpu: true, skipSystem: true, minMemoryGb: 8.5, minDiskPercent: 15, minFreeDiskGb: 20, diskPaths: ['/a', '/b/c'], volumePath: '/vol', a1111Dir: '/sd' });
    expect(() => loadStartupCheckConfig({ RUNPOD_MIN_MEMORY_GB: 'lots' }, 1)).toThrow('RUNPOD_MIN_MEMORY_GB="lots" is invalid: allowed a number from 0 to');
    expect(() => loadStartupCheckConfig({ RUNPOD_MIN_DISK_PERCENT: '101' }, 1)).toThrow('RUNPOD_MIN_DISK_PERCENT="101" is invalid: allowed a number from 0 to 100 (default 10)');
    expect(() => loadStartupCheckConfig({ MIN_FREE_DISK_GB: '-1' }, 1)).toThrow('MIN_FREE_DISK_GB="-1" is invalid');
    expect(() => loadStartupCheckConfig({ RUNPOD_SKIP_GPU_CHECK: 'maybe' }, 1)).toThrow('RUNPOD_SKIP_GPU_CHECK="maybe" is invalid: allowed true or false');
    expect(() => loadStartupCheckConfig({ DISK_CHECK_PATHS: '/ok,models' }, 1)).toThrow('DISK_CHECK_PATHS has "models": allowed absolute folder paths, comma-separated');
  });
});

describe('gpu check (nvidia-smi --list-gpus, as runpod-python rp_gpu_fitness.py)', () => {
  const two = 'echo "GPU 0: NVIDIA RTX A5000 (UUID: GPU-aaa)"; echo "GPU 1: NVIDIA RTX A5000 (UUID: GPU-bbb)"';

  it('skipped with a log line when nvidia-smi is not on PATH (CPU machines, CI), or with RUNPOD_SKIP_GPU_CHECK', async () => {
    const empty = await fixture('no-smi', {});
    expect(await checkGpu(cfg(), { pathEnv: empty })).toEqual({ skipped: true, message: 'GPU check skipped: nvidia-smi is not on PATH (no NVIDIA driver visible in this container).' });
    expect(await checkGpu(cfg(), { pathEnv: undefined })).toMatchObject({ skipped: true });
    expect(await checkGpu(cfg({ skipGpu: true }), { pathEnv: await fakeSmi('smi-skip', 'exit 1') })).toEqual({ skipped: true, message: 'GPU check skipped (RUNPOD_SKIP_GPU_CHECK=true).' });
  });

  it('passes when it lists one GPU per A1111 backend, naming them', async () => {
    const dir = await fakeSmi('smi-two', two);
    expect(await checkGpu(cfg({ gpusNeeded: 2 }), { pathEnv: dir })).toEqual({ skipped: false, message: 'GPU check passed: 2 GPU(s) listed by nvidia-smi (GPU 0: NVIDIA RTX A5000; GPU 1: NVIDIA RTX A5000).' });
  });

  it('fails: no GPU listed, fewer GPUs than backends, a non-zero exit (with its stderr), a hang', async () => {
    expect(await failure(checkGpu(cfg(), { pathEnv: await fakeSmi('smi-none', 'exit 0') }))).toEqual({ check: 'gpu', message: '0 GPU(s) listed by nvidia-smi --list-gpus, 1 required' });
    expect(await failure(checkGpu(cfg({ gpusNeeded: 3 }), { pathEnv: await fakeSmi('smi-2of3', two) }))).toEqual({
      check: 'gpu',
      message: '2 GPU(s) listed by nvidia-smi --list-gpus, 3 required (one per A1111 backend of A1111_URLS)',
    });
    const broken = await fakeSmi('smi-broken', 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver." >&2; exit 9');
    const f = await failure(checkGpu(cfg(), { pathEnv: broken }));
    expect(f.message).toBe(
      `nvidia-smi --list-gpus failed (${path.join(broken, 'nvidia-smi')}): exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.; at least 1 GPU(s) required`,
    );
    const hung = await fakeSmi('smi-hung', 'exec sleep 30');
    expect((await failure(checkGpu(cfg(), { pathEnv: hung, gpuTimeoutMs: 200 }))).message).toMatch(/^nvidia-smi --list-gpus failed \(.*\): timed out after 200 ms; /);
  });
});

describe('memory check (available memory, GiB of 1024³ bytes, as runpod-python rp_system_fitness.py)', () => {
  it('reads MemAvailable from /proc/meminfo when there is no cgroup limit', async () => {
    const proc = await fixture('proc-plain', { meminfo: meminfo(16 * 1024 * 1024, 12 * 1024 * 1024) });
    const cgroup = await fixture('cg-none', { 'memory.max': 'max\n', 'memory.current': '123\n' });
    expect(await memoryInfo({ proc, cgroup })).toEqual({ availableBytes: 12 * GIB, totalBytes: 16 * GIB, source: 'meminfo' });
  });

  it("a container's cgroup limit wins when its headroom is smaller (v2: max − (current − inactive_file); v1 likewise)", async () => {
    const proc = await fixture('proc-big', { meminfo: meminfo(64 * 1024 * 1024, 60 * 1024 * 1024) });
    const v2 = await fixture('cg-v2', { 'memory.max': `${8 * GIB}\n`, 'memory.current': `${5 * GIB}\n`, 'memory.stat': `anon 1\ninactive_file ${1 * GIB}\nactive_file 3\n` });
    expect(await memoryInfo({ proc, cgroup: v2 })).toEqual({ availableBytes: 4 * GIB, totalBytes: 8 * GIB, source: 'cgroup v2' });
    const v1 = await fixture('cg-v1', { 'memory/memory.limit_in_bytes': `${6 * GIB}\n`, 'memory/memory.usage_in_bytes': `${3 * GIB}\n`, 'memory/memory.stat': `total_inactive_file ${GIB}\n` });
    expect(await memoryInfo({ proc, cgroup: v1 })).toEqual({ availableBytes: 4 * GIB, totalBytes: 6 * GIB, source: 'cgroup v1' });
    const v1unlimited = await fixture('cg-v1-unl', { 'memory/memory.limit_in_bytes': '9223372036854771712\n', 'memory/memory.usage_in_bytes': `${3 * GIB}\n` });
    expect((await memoryInfo({ proc, cgroup: v1unlimited })).source).toBe('meminfo');
  });

  it('passes at the threshold; below it fails naming the measured value and RUNPOD_MIN_MEMORY_GB', async () => {
    const proc = await fixture('proc-3g', { meminfo: meminfo(8 * 1024 * 1024, 3 * 1024 * 1024) });
    const roots = { proc, cgroup: path.join(tmp, 'no-cgroup') };
    expect(await checkMemory(cfg({ minMemoryGb: 3 }), { roots })).toEqual({ skipped: false, message: 'Memory check passed: 3.00 GiB available (of 8.00 GiB, meminfo); RUNPOD_MIN_MEMORY_GB=3.' });
    expect(await failure(checkMemory(cfg({ minMemoryGb: 4 }), { roots }))).toEqual({ check: 'memory', message: '3.00 GiB available (of 8.00 GiB, meminfo), RUNPOD_MIN_MEMORY_GB=4 GiB required' });
    expect(await checkMemory(cfg({ minMemoryGb: 1e9, skipSystem: true }), { roots })).toEqual({ skipped: true, message: 'Memory check skipped (RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true).' });
  });
});

describe('disk check (free space of each folder; % rule as runpod-python, not on the network volume)', () => {
  it('passes with reachable thresholds, naming each folder with its free space', async () => {
    const r = await checkDisk(cfg({ diskPaths: [tmp] }));
    expect(r.skipped).toBe(false);
    expect(r.message).toMatch(new RegExp(`^Disk check passed: ${tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has \\d+\\.\\d\\d GiB free \\(\\d+\\.\\d % of \\d+\\.\\d\\d GiB\\); MIN_FREE_DISK_GB=0, RUNPOD_MIN_DISK_PERCENT=0\\.$`));
  });

  it('fails below MIN_FREE_DISK_GB or RUNPOD_MIN_DISK_PERCENT, naming the folder, the measure and the variable', async () => {
    const a = await failure(checkDisk(cfg({ diskPaths: [tmp], minFreeDiskGb: 1e9 })));
    expect(a.check).toBe('disk');
    expect(a.message).toMatch(/ has \d+\.\d\d GiB free \(\d+\.\d % of \d+\.\d\d GiB\), MIN_FREE_DISK_GB=1000000000 GiB required$/);
    // No real filesystem is 100 % free.
    expect((await failure(checkDisk(cfg({ diskPaths: [tmp], minDiskPercent: 100 })))).message).toMatch(/, RUNPOD_MIN_DISK_PERCENT=100 % required$/);
  });

  it('the network volume (A1111_VOLUME and below) is exempt from the % rule, not from MIN_FREE_DISK_GB', async () => {
    const inside = path.join(tmp, 'vol-models');
    await mkdir(inside, { recursive: true });
    const r = await checkDisk(cfg({ diskPaths: [tmp, inside], volumePath: tmp, minDiskPercent: 100 }));
    expect(r.message).toMatch(/, network volume: % rule not applied; .*vol-models has .*, network volume: % rule not applied; /);
    expect((await failure(checkDisk(cfg({ diskPaths: [inside], volumePath: tmp, minFreeDiskGb: 1e9 })))).message).toMatch(/MIN_FREE_DISK_GB=1000000000 GiB required$/);
  });

  it('default folders that do not exist are left out; a listed one that does not exist fails', async () => {
    const missing = path.join(tmp, 'missing');
    const r = await checkDisk(cfg({ diskPaths: null, a1111Dir: missing, volumePath: path.join(tmp, 'missing-vol') }));
    expect(r.message).toContain(`${os.tmpdir()} has `);
    expect(r.message).not.toContain('missing');
    expect(await failure(checkDisk(cfg({ diskPaths: [missing] })))).toEqual({ check: 'disk', message: `${missing} cannot be measured (ENOENT) (listed in DISK_CHECK_PATHS)` });
    expect(await checkDisk(cfg({ skipSystem: true, diskPaths: [missing] }))).toEqual({ skipped: true, message: 'Disk check skipped (RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true).' });
  });
});

describe('runStartupChecks', () => {
  it('runs gpu, memory, disk in order, logs each, and stops at the first failure with a line naming check, value and threshold', async () => {
    const log = recordingLog();
    const proc = await fixture('proc-run', { meminfo: meminfo(8 * 1024 * 1024, 2 * 1024 * 1024) });
    const err = await runStartupChecks(cfg({ minMemoryGb: 4, diskPaths: ['/nonexistent-disk-check'] }), log, { pathEnv: '', roots: { proc, cgroup: proc } });
    expect(err).toBeInstanceOf(StartupCheckError);
    expect(err!.check).toBe('memory');
    expect(log.lines).toEqual([
      'INFO Running 3 start-up check(s)...',
      'INFO GPU check skipped: nvidia-smi is not on PATH (no NVIDIA driver visible in this container).',
      'ERROR Start-up check failed: memory | 2.00 GiB available (of 8.00 GiB, meminfo), RUNPOD_MIN_MEMORY_GB=4 GiB required',
    ]);
  });

  it('all passed: a closing line, no failure', async () => {
    const log = recordingLog();
    expect(await runStartupChecks(cfg({ diskPaths: [tmp] }), log, { pathEnv: '' })).toBeUndefined();
    expect(log.lines.at(-1)).toMatch(/^INFO All start-up checks passed\. \(\d+\.\d\dms\)$/);
  });
});

describe('the unhealthy report: URL and check names (runpod-python rp_fitness.py _report_unhealthy)', () => {
  it('ping URL + status, check, reason, runpod_version in that order, quote_plus-encoded; ? when the URL has none', () => {
    const ping = resolvePingUrl('https://api.runpod.ai/v2/ep/ping/$RUNPOD_POD_ID?gpu=NVIDIA+H200', 'w42');
    expect(ping).toBe('https://api.runpod.ai/v2/ep/ping/w42?gpu=NVIDIA+H200');
    expect(unhealthyUrl(ping, 'disk', 'StartupCheckError: /tmp: 1 % free, 10 % required', '1.12.0')).toBe(
      'https://api.runpod.ai/v2/ep/ping/w42?gpu=NVIDIA+H200&status=unhealthy&check=disk&reason=StartupCheckError%3A+%2Ftmp%3A+1+%25+free%2C+10+%25+required&runpod_version=1.12.0',
    );
    expect(unhealthyUrl('http://h/ping/w', 'gpu', "it's (bad)!", '1.12.0')).toBe('http://h/ping/w?status=unhealthy&check=gpu&reason=it%27s+%28bad%29%21&runpod_version=1.12.0');
  });

  it('reason cut to 256 code points', () => {
    const url = unhealthyUrl('http://h/p', 'a1111_ready', 'x'.repeat(300), '1.12.0');
    expect(new URL(url).searchParams.get('reason')).toBe('x'.repeat(256));
  });

  it('check names and "<error name>: <message>" reasons per fatal cause', () => {
    expect(classifyFatal(new StartupCheckError('memory', 'm'))).toEqual({ check: 'memory', reason: 'StartupCheckError: m' });
    expect(classifyFatal(new A1111ExitedError(42, 'http://127.0.0.1:3000')).check).toBe('a1111_exited');
    expect(classifyFatal(new WarmupError('A1111 warm-up failed: boom'))).toEqual({ check: 'a1111_warmup', reason: 'WarmupError: A1111 warm-up failed: boom' });
    const notReady = new A1111Error('A1111 at http://x not ready after 1 s (A1111_READY_TIMEOUT_S); …', 'unreachable', null, 'GET', '/sdapi/v1/sd-models');
    expect(classifyFatal(notReady)).toEqual({ check: 'a1111_ready', reason: `A1111Error: ${notReady.message}` });
    expect(classifyFatal(new TypeError('bug'))).toEqual({ check: 'worker_error', reason: 'TypeError: bug' });
  });
});

describe('versions', () => {
  it('runpod_version is the runpod-python protocol release (1.12.0); the package version and name match package.json and make the User-Agent', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
    expect(RUNPOD_VERSION).toBe('1.12.0');
    expect(WORKER_VERSION).toBe(pkg.version);
    expect(WORKER_NAME).toBe(pkg.name);
    expect(userAgent()).toMatch(new RegExp(`^runpod-worker-a1111-ts/${pkg.version.replace(/\./g, '\\.')} \\(\\S+ \\S+; \\S+\\) Language/Node \\d+\\.\\d+\\.\\d+$`));
    expect(userAgent('hub')).toMatch(/ Integration\/hub$/);
  });
});
