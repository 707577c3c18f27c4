/**
 * End to end, issue 12 items 1, 3 and 6 (RunPod parity of results): the built worker as a child process in
 * platform mode against the local endpoint emulator (in this process, so its limits and refusal knobs can be set),
 * with the A1111 simulator as a child process.
 *
 * - A result job-done refuses (over the job's limit, or any 4xx) ends FAILED with the reason, never COMPLETED
 *   without output nor stuck IN_PROGRESS; it is lost only when the fallback is refused too (logged with the id).
 * - The size guard knows /run and /runsync apart (a `sync-` id).
 * - `refresh_worker` (per job, and REFRESH_WORKER) gives `stopPod`.
 * - A job that streamed previews ends with `isStream=true`.
 * - /health workers, the unhealthy ping, webhookV2.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEndpoint, type EndpointOptions, type LocalEndpoint } from '../../handler/endpoint/index.js';
import { getJson, postJson } from '../helpers/http-json.js';
import { startSimProcess, type SimProcess } from '../helpers/sim-process.js';
import { until } from '../helpers/wait.js';
import { startWorker, type WorkerProcess } from '../helpers/worker-process.js';

/** Quick worker settings: 1 s heartbeat, short result-post retries, INFO logs in RunPod's text format. */
const BASE_ENV = { RUNPOD_PING_INTERVAL: '1000', RESULT_POST_MIN_DELAY_MS: '50', RESULT_POST_MAX_DELAY_MS: '200', RUNPOD_DEBUG_LEVEL: 'INFO' };

/** A one-step txt2img input of `side`² (the simulator's PNGs: ~0.5 MB at 512², ~1.9 MB at 1024²). */
const image = (prompt: string, side: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ prompt, steps: 1, width: side, height: side, ...extra });

interface Stack {
  sim: SimProcess;
  ep: LocalEndpoint;
  worker: WorkerProcess;
  base: string;
}

/** The simulator, the endpoint (with `opts`) and a platform-mode worker pointed at it. */
async function startStack(sim: SimProcess, opts: EndpointOptions, env: Record<string, string>, workerId: string): Promise<Stack> {
  const ep = await startEndpoint({ port: 0, takeHoldMs: 500, streamHoldMs: 300, ...opts });
  const worker = startWorker({ ...BASE_ENV, ...ep.workerEnv(), RUNPOD_POD_ID: workerId, RUNPOD_AI_API_KEY: 'k', A1111_URL: sim.url, ...env });
  return { sim, ep, worker, base: `${ep.url}/v2/local` };
}

async function stopStack(s: Stack | undefined): Promise<void> {
  if (!s) return;
  if (s.worker.child.exitCode === null && s.worker.child.signalCode === null) {
    s.worker.child.kill('SIGKILL');
    await s.worker.exited;
  }
  await s.ep.close();
}

/** Submits `/run` and waits (deadline) for a final state; returns the final `/status` body. */
async function runToFinal(s: Stack, body: Record<string, unknown>, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const { id } = (await postJson(`${s.base}/run`, body)).body as { id: string };
  return until(
    async () => {
      const st = (await getJson(`${s.base}/status/${id}`)).body as Record<string, unknown>;
      return ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(st.status as string) ? st : null;
    },
    { what: `job ${id} to end`, timeoutMs, everyMs: 50 },
  );
}

/** `/runsync` (waits up to 60 s). */
async function runSync(s: Stack, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  return (await postJson(`${s.base}/runsync?wait=60000`, body)).body as Record<string, unknown>;
}

const logs = (w: WorkerProcess): string => w.stdout() + w.stderr();

let sim: SimProcess;
beforeAll(async () => {
  sim = await startSimProcess(['--step-ms', '1']);
}, 30_000);
afterAll(async () => {
  await sim?.close();
});

describe('parity: result limits and refused results (item 1)', () => {
  let s: Stack | undefined;
  beforeAll(async () => {
    // The worker's guards: 1 MiB for /run, 19 MiB for /runsync. The endpoint refuses /run results over 200 kB, so
    // a 512² result (~0.7 MB of base64) passes the worker's guard and is refused by job-done.
    s = await startStack(sim, { resultLimitRunBytes: 200_000 }, { MAX_RESULT_MB_RUN: '1', MAX_RESULT_MB_SYNC: '19' }, 'w-limits');
  }, 30_000);
  afterAll(async () => stopStack(s));

  it('a result job-done refuses (400, over the limit) ends FAILED with the status, the size, the limit and S3 advice', async () => {
    const st = await runToFinal(s!, { input: image('refused', 512) });
    expect(st.status).toBe('FAILED');
    expect(st.output).toBeUndefined();
    expect(st.error).toMatch(/^RunPod refused the job's result \(job-done answered HTTP 400\): the result was \d+\.\d MB \(\d+ bytes\); RunPod accepts at most 10 MB \(10485760 bytes\) for a \/run job \(20 MB for \/runsync\)\. /);
    expect(st.error).toMatch(/BUCKET_ENDPOINT_URL.*s3Config/);
    expect(s!.ep.stats().refusedResults).toBeGreaterThanOrEqual(1);
    expect(logs(s!.worker)).toMatch(/job-done refused the result \(HTTP 400, \d+ bytes\); posting a FAILED result instead/);
    expect(logs(s!.worker)).not.toMatch(/is lost/);
  });

  it('the guard knows /run from /runsync: a 1024² result fails a /run job (MAX_RESULT_MB_RUN) and completes on /runsync', async () => {
    const run = await runToFinal(s!, { input: image('guard', 1024) });
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatch(/is over the limit of 1 MiB \(1048576 bytes, MAX_RESULT_MB_RUN=1\); RunPod refuses results over 10 MB for a \/run job\./);
    const sync = await runSync(s!, { input: image('guard', 1024) });
    expect(sync.id).toMatch(/^sync-/);
    expect(sync.status).toBe('COMPLETED');
    expect(((sync.output as { images: string[] }).images[0] ?? '').length).toBeGreaterThan(1024 * 1024);
  });
});

describe('parity: any 4xx on job-done; a lost result is logged (item 1)', () => {
  let s: Stack | undefined;
  beforeAll(async () => {
    // Refusals answer the next final job-done posts in order: the first job's result (400) and its fallback (404),
    // then the second job's result (404); its fallback is accepted.
    s = await startStack(sim, { faults: { seed: 1, doneRefusals: [400, 404, 404] } }, { REFRESH_WORKER: 'true' }, 'w-refusals');
  }, 30_000);
  afterAll(async () => stopStack(s));

  it('when the fallback is refused too, the result is lost and the log says so with the job id', async () => {
    const { id } = (await postJson(`${s!.base}/run`, { input: image('lost', 64) })).body as { id: string };
    await until(() => logs(s!.worker).includes(`The result of job ${id} is lost`), { what: 'the loss to be logged', timeoutMs: 20_000 });
    expect(((await getJson(`${s!.base}/status/${id}`)).body as { status: string }).status).toBe('IN_PROGRESS');
    expect(s!.ep.stats().refusedResults).toBe(2);
  });

  it('any 4xx: a 404 on the result gets the FAILED fallback (REFRESH_WORKER keeps its stopPod)', async () => {
    const st = await runToFinal(s!, { input: image('refused-404', 64) });
    expect(st.status).toBe('FAILED');
    expect(st.error).toMatch(/^RunPod refused the job's result \(job-done answered HTTP 404\)/);
    expect(s!.ep.stats().stopPodJobIds).toContain(st.id);
  });

  it('REFRESH_WORKER=true: every result carries stopPod', async () => {
    const st = await runToFinal(s!, { input: image('refresh-env', 64) });
    expect(st.status).toBe('COMPLETED');
    expect(s!.ep.stats().stopPodJobIds).toContain(st.id);
  });
});

describe('parity: refresh_worker, streaming, health, webhookV2 (items 3 and 6)', () => {
  let s: Stack | undefined;
  beforeAll(async () => {
    s = await startStack(sim, {}, { PROGRESS_INTERVAL_MS: '50', PREVIEW_INTERVAL_MS: '100' }, 'w-parity');
  }, 30_000);
  afterAll(async () => stopStack(s));

  it('"refresh_worker": true in the input gives that job stopPod, and only that job', async () => {
    const one = await runToFinal(s!, { input: image('refresh-one', 64, { refresh_worker: true }) });
    const other = await runToFinal(s!, { input: { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: image('plain', 64) } });
    expect([one.status, other.status]).toEqual(['COMPLETED', 'COMPLETED']);
    expect(s!.ep.stats().stopPodJobIds).toEqual([one.id]);
    const bad = await runToFinal(s!, { input: image('refresh-bad', 64, { refresh_worker: 'yes' }) });
    expect(bad).toMatchObject({ status: 'FAILED', error: 'input.refresh_worker: "yes" is not allowed (must be true or false)' });
  });

  it('a job that streamed previews ends with isStream=true on job-done; one that did not, with isStream=false', async () => {
    // A slower simulator (20 ms a step), so previews are polled and streamed while the job runs.
    const slow = await startSimProcess(['--step-ms', '20']);
    const t = await startStack(slow, {}, { PROGRESS_INTERVAL_MS: '50', PREVIEW_INTERVAL_MS: '100' }, 'w-stream');
    try {
      const { id } = (await postJson(`${t.base}/run`, { input: image('stream', 64, { steps: 50, preview: true }) })).body as { id: string };
      const chunks: unknown[] = [];
      const st = await until(
        async () => {
          const r = (await getJson(`${t.base}/stream/${id}`)).body as { status: string; stream: unknown[] };
          chunks.push(...r.stream);
          return ['COMPLETED', 'FAILED'].includes(r.status) ? r : null;
        },
        { what: 'the streamed job to end', timeoutMs: 30_000 },
      );
      const quiet = await runToFinal(t, { input: image('quiet', 64) });
      expect([st.status, quiet.status]).toEqual(['COMPLETED', 'COMPLETED']);
      expect(chunks.length).toBeGreaterThan(0);
      const finals = t.ep.stats().streamFinalJobIds;
      expect(finals).toContain(id);
      expect(finals).not.toContain(quiet.id);
    } finally {
      await stopStack(t);
      await slow.close();
    }
  }, 60_000);

  it('/health reports workers {idle, initializing, ready, running, throttled, unhealthy}; an unhealthy ping counts', async () => {
    const h = (await getJson(`${s!.base}/health`)).body as { workers: Record<string, number> };
    expect(Object.keys(h.workers)).toEqual(['idle', 'initializing', 'ready', 'running', 'throttled', 'unhealthy']);
    expect(h.workers.idle + h.workers.running).toBe(1);
    expect(h.workers.ready).toBe(1);
    await getJson(`${s!.base}/ping/w-sick?gpu=local&status=unhealthy&check=gpu&runpod_version=1.12.0`);
    await getJson(`${s!.base}/ping/w-booting?gpu=local&runpod_version=1.12.0`);
    const h2 = (await getJson(`${s!.base}/health`)).body as { workers: Record<string, number> };
    expect(h2.workers).toMatchObject({ unhealthy: 1, initializing: 1, ready: 1, throttled: 0 });
  });

  it('webhookV2 gets the final status like webhook', async () => {
    const got: Array<{ path: string; body: Record<string, unknown> }> = [];
    const hook = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        got.push({ path: req.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
      const st = await runToFinal(s!, { input: image('hooked', 64), webhook: `${url}/v1`, webhookV2: `${url}/v2` });
      await until(() => got.length === 2, 'both webhooks');
      const v2 = got.find((g) => g.path === '/v2')!;
      expect(v2.body).toMatchObject({ id: st.id, status: 'COMPLETED', webhookV2: `${url}/v2`, input: image('hooked', 64) });
      expect(got.find((g) => g.path === '/v1')!.body).toMatchObject({ id: st.id, status: 'COMPLETED', webhook: `${url}/v1` });
    } finally {
      await new Promise((r) => hook.close(r));
    }
  });
});
