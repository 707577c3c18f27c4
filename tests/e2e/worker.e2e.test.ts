/**
 * End to end: the built worker as a child process in platform mode, against the local endpoint emulator (RunPod's
 * public API and worker protocol, every worker request recorded) and the bundled A1111 simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { recordsOf, resultOf, run, startTestEndpoint, takesInFlight, workerEnv, type LocalEndpoint } from '../helpers/endpoint-worker.js';
import { until } from '../helpers/wait.js';
import { startWorker, type WorkerProcess } from '../helpers/worker-process.js';
import { SEED_004, closedPort } from '../helpers/fixtures.js';

const seed004 = SEED_004;

interface A1111Output {
  images: string[];
  info: string;
  parameters: Record<string, unknown>;
}

function png(b64: string): PNG {
  return PNG.sync.read(Buffer.from(b64, 'base64'));
}

/** A small real PNG (w×h, RGB gradient). */
function makePng(w: number, h: number): string {
  const p = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    p.data[i * 4] = i % 256;
    p.data[i * 4 + 1] = (i * 7) % 256;
    p.data[i * 4 + 2] = 128;
    p.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(p).toString('base64');
}

describe('platform mode, end to end', () => {
  let sim: Simulator;
  let ep: LocalEndpoint;
  let worker: WorkerProcess;
  let seedJob: string;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 1 });
    ep = await startTestEndpoint({ takeHoldMs: 500 });
    worker = startWorker(
      workerEnv(ep, 'w-e2e', {
        A1111_URL: sim.url,
        RUNPOD_ENDPOINT_ID: 'ep1',
        RUNPOD_PING_INTERVAL: '1000',
        RESULT_POST_MIN_DELAY_MS: '50',
        RUNPOD_DEBUG_LEVEL: 'INFO',
      }),
    );
  });

  afterAll(async () => {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await ep?.close();
    await sim?.close();
  });

  it("runs seed 004's txt2img request and posts real 1024×1024 PNGs with info and parameters", async () => {
    seedJob = await run(ep, seed004.input);
    const rec = await resultOf(ep, seedJob);
    const body = rec.body as { output: A1111Output };
    expect(Object.keys(body)).toEqual(['output']);
    expect(body.output.images).toHaveLength(1);
    const img = png(body.output.images[0]!);
    expect([img.width, img.height]).toEqual([1024, 1024]);
    const info = JSON.parse(body.output.info) as { seed: number; all_seeds: number[]; infotexts: string[] };
    expect(info.seed).toBeGreaterThanOrEqual(0);
    expect(info.all_seeds).toEqual([info.seed]);
    expect(info.infotexts[0]).toMatch(/^an astronaut riding a horse\nSteps: 30, Sampler: DPM\+\+ SDE/);
    expect(body.output.parameters.prompt).toBe('an astronaut riding a horse');
    // A1111 got exactly the caller's payload: no defaults injected.
    expect(sim.requests.find((r) => r.path === '/sdapi/v1/txt2img')!.body).toEqual(seed004.input.payload);
    expect(rec.query.isStream).toBe('false');
    expect(rec.headers['x-request-id']).toBe(seedJob);
  });

  it('runs an img2img with an init image', async () => {
    const id = await run(ep, {
      api: { method: 'POST', endpoint: '/sdapi/v1/img2img' },
      payload: { init_images: [makePng(96, 64)], prompt: 'a watercolour', steps: 4, width: 128, height: 192, denoising_strength: 0.5 },
    });
    const body = (await resultOf(ep, id)).body as { output: A1111Output };
    const img = png(body.output.images[0]!);
    expect([img.width, img.height]).toEqual([128, 192]);
  });

  it('runs an interrogate, a GET list route and the official worker shape (no api)', async () => {
    const interrogate = await run(ep, { api: { method: 'POST', endpoint: 'sdapi/v1/interrogate' }, payload: { image: makePng(64, 64), model: 'clip' } });
    const list = await run(ep, { api: { method: 'GET', endpoint: '/sdapi/v1/sd-models' } });
    const plain = await run(ep, { prompt: 'a lighthouse', steps: 2, width: 64, height: 64 });
    const caption = (await resultOf(ep, interrogate)).body as { output: { caption: string } };
    expect(typeof caption.output.caption).toBe('string');
    expect(caption.output.caption.length).toBeGreaterThan(0);
    const models = (await resultOf(ep, list)).body as { output: Array<{ title: string; model_name: string }> };
    expect(models.output.map((m) => m.model_name)).toContain('sd_xl_base_1.0');
    const official = (await resultOf(ep, plain)).body as { output: A1111Output };
    expect([png(official.output.images[0]!).width, png(official.output.images[0]!).height]).toEqual([64, 64]);
  });

  it('refuses a forbidden route and an invalid payload without calling A1111', async () => {
    const before = sim.requests.length;
    const killJob = await run(ep, { api: { method: 'POST', endpoint: '/sdapi/v1/server-kill' }, payload: {} });
    const badJob = await run(ep, { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'x', steps: 500, seed: 'abc', stepz: 3 } });
    const kill = (await resultOf(ep, killJob)).body as { error: string; stopPod?: boolean };
    expect(kill.error).toMatch(/server-kill/);
    expect(kill.error).toMatch(/txt2img/); // lists the allowed routes
    expect(kill.stopPod).toBeUndefined();
    const bad = (await resultOf(ep, badJob)).body as { error: string };
    expect(bad.error).toMatch(/steps: 500/);
    expect(bad.error).toMatch(/seed: "abc" is not allowed/);
    expect(bad.error).toMatch(/stepz: unknown field \(did you mean "steps"\?\)/);
    expect(sim.requests.slice(before).filter((r) => r.path.startsWith('/sdapi/v1/') && r.path !== '/sdapi/v1/sd-models')).toEqual([]);
  });

  it("fails a job with A1111's message on an A1111 error, without stopPod, and keeps going", async () => {
    sim.injectFault({ kind: 'status', status: 500, count: 1, route: 'txt2img', body: { error: 'OutOfMemoryError', detail: '', body: '', errors: 'CUDA out of memory' } });
    const oom = await run(ep, { prompt: 'x', steps: 1, width: 64, height: 64 });
    const afterOom = await run(ep, { prompt: 'y', steps: 1, width: 64, height: 64 });
    expect((await resultOf(ep, oom)).body).toEqual({ error: 'A1111 500 on POST /sdapi/v1/txt2img: OutOfMemoryError CUDA out of memory' });
    expect(((await resultOf(ep, afterOom)).body as { output: A1111Output }).output.images).toHaveLength(1);
  });

  it('sends heartbeats (with job_id while a job runs) and JSON log lines with the job id', async () => {
    // 16 batches (the most per job) × 150 steps × 1 ms: a job of about 2.4 s, well over the 1 s ping interval.
    const long = await run(ep, { prompt: 'long', steps: 150, n_iter: 16, width: 64, height: 64 });
    expect(((await resultOf(ep, long)).body as { output: A1111Output }).output.images).toHaveLength(16);
    const pings = recordsOf(ep, 'ping');
    expect(pings.length).toBeGreaterThan(0);
    expect(pings[0]!.headers.authorization).toBe('test-key');
    expect(pings.some((p) => p.query.job_id === long)).toBe(true);
    // Once the job is posted, the next ping lists no job.
    const idle = await ep.waitForRequest((p) => p.kind === 'ping' && p.receivedAt > pings.at(-1)!.receivedAt && p.query.job_id === undefined, 'a ping without job_id after the job', 5000);
    expect(idle.query.runpod_version).toBe('1.12.0');
    const lines = worker.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { requestId: string | null; message: string; level: string });
    expect(lines.some((l) => l.requestId === seedJob && l.message === 'Started.' && l.level === 'INFO')).toBe(true);
    expect(lines.some((l) => l.requestId === seedJob && l.message === 'Finished.')).toBe(true);
  });

  it('exits 0 within 2 s on SIGTERM while idle', async () => {
    await until(() => takesInFlight(ep) > 0, 'the worker idle in its job-take long-poll');
    const t0 = performance.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('worker process edge cases', () => {
  it('SIGTERM during a job: the job finishes, its result is posted, then exit 0', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 20 });
    const ep = await startTestEndpoint();
    try {
      const w = startWorker(workerEnv(ep, 'w-drain', { A1111_URL: sim.url, RUNPOD_DEBUG_LEVEL: 'INFO' }));
      const id = await run(ep, { prompt: 'slow', steps: 50, width: 64, height: 64 });
      await until(() => sim.requests.some((r) => r.path === '/sdapi/v1/txt2img'), 'the job to run at A1111'); // 50 × 20 ms
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      const body = (await resultOf(ep, id, 100)).body as { output: A1111Output };
      expect(body.output.images).toHaveLength(1);
    } finally {
      await ep.close();
      await sim.close();
    }
  });

  it('A1111 never ready: logs why and exits non-zero at the deadline', async () => {
    const ep = await startTestEndpoint();
    try {
      const port = await closedPort();
      const w = startWorker(workerEnv(ep, 'w-never', { A1111_URL: `http://127.0.0.1:${port}`, A1111_READY_TIMEOUT_S: '1' }));
      expect(await w.exited).toBe(1);
      // The deadline it gave up at (no wall-clock bound here: speed lives in the bench).
      expect(w.stdout()).toMatch(/not ready after 1 s/);
      expect(recordsOf(ep, 'take')).toEqual([]);
    } finally {
      await ep.close();
    }
  });

  it('local mode: --test_input prints the result JSON on stdout; a failing job exits 1', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 1 });
    try {
      const ok = startWorker({ A1111_URL: sim.url }, ['--test_input', JSON.stringify({ input: { prompt: 'local', steps: 2, width: 1024, height: 1024 } })]);
      expect(await ok.exited).toBe(0);
      const body = JSON.parse(ok.stdout()) as { output: A1111Output };
      expect(png(body.output.images[0]!).width).toBe(1024); // ~2 MB on stdout: the whole result must be flushed before exit
      const bad = startWorker({ A1111_URL: sim.url }, ['--test_input', JSON.stringify({ input: { api: { method: 'GET', endpoint: '/sdapi/v1/txt2img' } } })]);
      expect(await bad.exited).toBe(1);
      expect((JSON.parse(bad.stdout()) as { error: string }).error).toMatch(/POST/);
      const none = startWorker({ A1111_URL: sim.url }, ['--test_input', JSON.stringify({ id: 'x' })]);
      expect(await none.exited).toBe(1);
      expect(none.stderr()).toMatch(/Job has no input parameter/);
    } finally {
      await sim.close();
    }
  });

  it('bad configuration exits 2 with a message naming the variable', async () => {
    const w = startWorker({ A1111_REQUEST_TIMEOUT_S: 'forever' });
    expect(await w.exited).toBe(2);
    expect(w.stderr()).toMatch(/A1111_REQUEST_TIMEOUT_S="forever" is invalid/);
  });
});
