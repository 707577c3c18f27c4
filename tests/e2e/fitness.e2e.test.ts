/**
 * End to end, the worker's health reporting (issue 12 items 2 and 5): the built worker as a child process in
 * platform mode against the local endpoint emulator, which records every ping.
 *
 * Each fatal exit — a failed start-up check (disk, memory, gpu), A1111 never ready by `A1111_READY_TIMEOUT_S`, the
 * `A1111_PID` process gone, a failed warm-up — sends exactly one unhealthy report, shaped as runpod-python's
 * `rp_fitness._report_unhealthy` (`status=unhealthy&check=<name>&reason=<text ≤ 256>&runpod_version=<v>`, raw
 * `Authorization`), as the last ping, and then the worker exits 1. A healthy start sends none.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { closedPort } from '../helpers/fixtures.js';
import { recordsOf, resultOf, run, startTestEndpoint, workerEnv, type LocalEndpoint, type WorkerApiRecord } from '../helpers/endpoint-worker.js';
import { until } from '../helpers/wait.js';
import { startWorker, type WorkerProcess } from '../helpers/worker-process.js';

/** 1 s heartbeat, INFO logs in RunPod's text format. */
const BASE_ENV = { RUNPOD_PING_INTERVAL: '1000', RUNPOD_DEBUG_LEVEL: 'INFO' };

/** The worker's exit code, or a failure naming what it printed when it has not exited within `ms`. */
async function exitCode(w: WorkerProcess, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`worker still running after ${ms} ms:\n${w.stdout()}\n${w.stderr()}`)), ms);
  });
  try {
    return await Promise.race([w.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function kill(w: WorkerProcess | undefined): Promise<void> {
  if (w && w.child.exitCode === null && w.child.signalCode === null) {
    w.child.kill('SIGKILL');
    await w.exited;
  }
}

const pings = (p: LocalEndpoint, workerId: string): WorkerApiRecord[] => recordsOf(p, 'ping').filter((r) => r.workerId === workerId);
const unhealthy = (p: LocalEndpoint, workerId: string): WorkerApiRecord[] => pings(p, workerId).filter((r) => r.query.status === 'unhealthy');

/**
 * Asserts the one unhealthy report of `workerId`: its query (in runpod-python's order, after the template's own
 * `gpu=`), the raw API key, that it was the last ping, and returns its reason.
 */
function expectOneReport(p: LocalEndpoint, workerId: string, check: string): string {
  const reports = unhealthy(p, workerId);
  expect(reports, `unhealthy reports of ${workerId}`).toHaveLength(1);
  const r = reports[0]!;
  expect(r.url).toMatch(new RegExp(`^/v2/ep1/ping/${workerId}\\?gpu=NVIDIA\\+H200&status=unhealthy&check=${check}&reason=[^&]+&runpod_version=1\\.12\\.0$`));
  expect(r.query).toEqual({ gpu: 'NVIDIA H200', status: 'unhealthy', check, reason: expect.any(String), runpod_version: '1.12.0' });
  expect(r.headers.authorization).toBe('test-key');
  expect(r.headers['user-agent']).toMatch(/^runpod-worker-a1111-ts\/\d+\.\d+\.\d+ \(/);
  expect(Array.from(r.query.reason!).length).toBeLessThanOrEqual(256);
  expect(pings(p, workerId).at(-1)).toBe(r); // the heartbeat was stopped first: the report is the last word
  return r.query.reason!;
}

describe('unhealthy report before a fatal exit (platform mode)', () => {
  let ep: LocalEndpoint;
  let tmp: string;
  beforeAll(async () => {
    ep = await startTestEndpoint();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'fitness-e2e-'));
  });
  afterAll(async () => {
    await ep.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('A1111 never ready: heartbeat meanwhile, then exactly one unhealthy ping (a1111_ready) as the last ping, exit 1', async () => {
    const port = await closedPort();
    const w = startWorker(workerEnv(ep, 'w-never', { ...BASE_ENV, A1111_URL: `http://127.0.0.1:${port}`, A1111_READY_TIMEOUT_S: '2' }));
    try {
      expect(await exitCode(w, 20_000)).toBe(1);
      const reason = expectOneReport(ep, 'w-never', 'a1111_ready');
      expect(reason).toMatch(new RegExp(`^A1111Error: A1111 at http://127\\.0\\.0\\.1:${port} not ready after 2 s \\(A1111_READY_TIMEOUT_S\\)`));
      expect(pings(ep, 'w-never').filter((r) => r.query.status === undefined).length).toBeGreaterThanOrEqual(1); // ordinary heartbeats first
      expect(recordsOf(ep, 'take').filter((r) => r.workerId === 'w-never')).toEqual([]);
      expect(w.stdout()).toMatch(/All start-up checks passed\./);
      expect(w.stdout()).toMatch(/Worker cannot continue: A1111 at .* not ready after 2 s/);
    } finally {
      await kill(w);
    }
  });

  it.each([
    {
      check: 'disk',
      env: (): Record<string, string> => ({ DISK_CHECK_PATHS: tmp, MIN_FREE_DISK_GB: '1000000000' }),
      log: /Start-up check failed: disk \| \S+ has \d+\.\d\d GiB free \(\d+\.\d % of \d+\.\d\d GiB\), MIN_FREE_DISK_GB=1000000000 GiB required/,
      reason: /^StartupCheckError: \S+ has \d+\.\d\d GiB free .*MIN_FREE_DISK_GB=1000000000 GiB required$/,
    },
    {
      check: 'memory',
      env: (): Record<string, string> => ({ RUNPOD_MIN_MEMORY_GB: '1000000' }),
      log: /Start-up check failed: memory \| \d+\.\d\d GiB available \(of \d+\.\d\d GiB, [\w .]+\), RUNPOD_MIN_MEMORY_GB=1000000 GiB required/,
      reason: /^StartupCheckError: \d+\.\d\d GiB available .*RUNPOD_MIN_MEMORY_GB=1000000 GiB required$/,
    },
    {
      // A fake nvidia-smi first on PATH that fails as a broken driver does.
      check: 'gpu',
      env: (): Record<string, string> => ({ PATH: `${path.join(tmp, 'bin')}${path.delimiter}${process.env.PATH ?? ''}` }),
      log: /Start-up check failed: gpu \| nvidia-smi --list-gpus failed \(.*\): exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/,
      reason: /^StartupCheckError: nvidia-smi --list-gpus failed .*exited with code 9/,
    },
  ])('a failed start-up check ($check): logged with value and threshold, one unhealthy ping before any heartbeat, exit 1, A1111 never waited for', async ({ check, env, log, reason }) => {
    if (check === 'gpu') {
      const bin = path.join(tmp, 'bin');
      await rm(bin, { recursive: true, force: true });
      await mkdir(bin);
      const smi = path.join(bin, 'nvidia-smi');
      await writeFile(smi, "#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\" >&2\nexit 9\n");
      await chmod(smi, 0o755);
    }
    const id = `w-check-${check}`;
    const port = await closedPort();
    const w = startWorker(workerEnv(ep, id, { ...BASE_ENV, A1111_URL: `http://127.0.0.1:${port}`, A1111_READY_TIMEOUT_S: '60', ...env() }));
    try {
      expect(await exitCode(w, 15_000)).toBe(1); // far below A1111_READY_TIMEOUT_S: the checks run before the wait
      expect(expectOneReport(ep, id, check)).toMatch(reason);
      // The checks run before the heartbeat starts (runpod-python: fitness checks, then the ping process).
      expect(pings(ep, id)).toHaveLength(1);
      expect(ep.requests().filter((r) => r.workerId === id && r.kind !== 'ping')).toEqual([]);
      expect(w.stdout()).toMatch(log);
      expect(w.stdout()).toMatch(/Worker is unhealthy, exiting\./);
      expect(w.stdout()).not.toMatch(/A1111 ready/);
    } finally {
      await kill(w);
    }
  });

  it('the A1111 process (A1111_PID) has exited: one unhealthy ping (a1111_exited), exit 1 at once', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    const port = await closedPort();
    const w = startWorker(workerEnv(ep, 'w-exited', { ...BASE_ENV, A1111_URL: `http://127.0.0.1:${port}`, A1111_PID: String(pid), A1111_READY_TIMEOUT_S: '60' }));
    try {
      expect(await exitCode(w, 15_000)).toBe(1);
      expect(expectOneReport(ep, 'w-exited', 'a1111_exited')).toMatch(new RegExp(`^A1111ExitedError: A1111 process ${pid} exited;`));
    } finally {
      await kill(w);
    }
  });

  describe('with the simulator', () => {
    let sim: Simulator;
    beforeAll(async () => {
      sim = await startSimulator({ port: 0, stepMs: 1 });
    });
    afterAll(async () => {
      await sim.close();
    });

    it('the warm-up fails (A1111 answers 422): one unhealthy ping (a1111_warmup) with A1111\'s message, exit 1', async () => {
      const w = startWorker(workerEnv(ep, 'w-warmup', { ...BASE_ENV, A1111_URL: sim.url, A1111_WARMUP: '{"prompt": "w", "steps": "many"}' }));
      try {
        expect(await exitCode(w, 15_000)).toBe(1);
        expect(expectOneReport(ep, 'w-warmup', 'a1111_warmup')).toMatch(/^WarmupError: A1111 warm-up failed: A1111 422 on POST \/sdapi\/v1\/txt2img/);
      } finally {
        await kill(w);
      }
    });

    it('a healthy start: the checks pass (gpu skipped without nvidia-smi), the job runs, no unhealthy ping; SIGTERM exits 0 without one', async () => {
      const w = startWorker(workerEnv(ep, 'w-healthy', { ...BASE_ENV, A1111_URL: sim.url, PATH: tmp }));
      try {
        const rec = await resultOf(ep, await run(ep, { prompt: 'ok', steps: 1, width: 64, height: 64 }), 15_000);
        expect((rec.body as { output?: { images: string[] } }).output?.images).toHaveLength(1);
        expect(w.stdout()).toMatch(/GPU check skipped: nvidia-smi is not on PATH/);
        expect(w.stdout()).toMatch(/Memory check passed: \d+\.\d\d GiB available/);
        expect(w.stdout()).toMatch(/All start-up checks passed\./);
        await until(() => pings(ep, 'w-healthy').length >= 1, 'a heartbeat of the healthy worker');
        w.child.kill('SIGTERM');
        expect(await exitCode(w, 10_000)).toBe(0);
        expect(unhealthy(ep, 'w-healthy')).toEqual([]);
      } finally {
        await kill(w);
      }
    });
  });
});
