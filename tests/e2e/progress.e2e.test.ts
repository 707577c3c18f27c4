/**
 * Live progress, previews, cancel, per-job timeouts and warm-up (issue 5), through `runpod-sdk` against
 * `--rp_serve_api`, with the worker and the A1111 simulator as real processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { startSimProcess, type SimProcess } from '../helpers/sim-process.js';
import { recordsOf, resultOf, run, startTestEndpoint, workerEnv } from '../helpers/endpoint-worker.js';
import { startLocalStack, type LocalStack, type SdkEndpoint } from '../helpers/local-stack.js';
import { until } from '../helpers/wait.js';
import { startWorker } from '../helpers/worker-process.js';

const FINAL = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
const PROGRESS_MS = 100;

interface Status {
  id: string;
  status: string;
  error?: string;
  output?: { progress?: number; step?: number; steps?: number; job_no?: number; job_count?: number; eta_relative?: number; images?: string[] };
}

let stack: LocalStack;
let sim: SimProcess;
let endpoint: SdkEndpoint;

/** A txt2img job: `steps` × `n_iter` × 10 ms on the simulator. */
function job(prompt: string, steps: number, n_iter = 1, extra: Record<string, unknown> = {}): { input: unknown } {
  return { input: { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt, steps, n_iter, width: 64, height: 64 }, ...extra } };
}

beforeAll(async () => {
  stack = await startLocalStack({
    simArgs: ['--step-ms', '10'],
    env: { PROGRESS_INTERVAL_MS: String(PROGRESS_MS), PREVIEW_INTERVAL_MS: '200', MAX_JOB_TIMEOUT_S: '60' },
  });
  ({ sim, endpoint } = stack);
});

afterAll(() => stack?.close());

describe('progress and previews', () => {
  it('status polling shows progress rising monotonically to the end', async () => {
    const { id } = await endpoint.run(job('progress', 100, 2) as never); // 2 s
    const seen: number[] = [];
    let s: Status;
    do {
      s = (await endpoint.status(id)) as Status;
      if (s.status === 'IN_PROGRESS' && typeof s.output?.progress === 'number') {
        expect(Object.keys(s.output).sort()).toEqual(['eta_relative', 'job_count', 'job_no', 'progress', 'step', 'steps']);
        seen.push(s.output.progress);
      }
      await new Promise((r) => setTimeout(r, 40));
    } while (!FINAL.includes(s.status));
    expect(s.status).toBe('COMPLETED');
    expect(s.output?.images).toHaveLength(2);
    expect(new Set(seen).size).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(seen[0]!).toBeLessThan(0.5);
    expect(seen.at(-1)!).toBeGreaterThan(0.8);
  });

  it('stream yields live previews when the input asks for them', async () => {
    const t0 = Date.now();
    const { id } = await endpoint.run(job('previews', 100, 1, { preview: true }) as never); // 1 s
    const chunks: Array<{ output: { preview: string; step: number; steps: number } }> = [];
    for await (const c of endpoint.stream(id)) chunks.push(c as (typeof chunks)[number]);
    const ms = Date.now() - t0; // ≥ the job's time (about 1 s; longer on a busy machine)
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(chunks.length).toBeLessThanOrEqual(Math.ceil(ms / 200) + 1); // at most one per PREVIEW_INTERVAL_MS (200 ms)
    const png = PNG.sync.read(Buffer.from(chunks[0]!.output.preview, 'base64'));
    expect(png.width).toBeGreaterThan(0);
    expect(chunks[0]!.output.steps).toBe(100);
    const done = (await endpoint.status(id)) as Status;
    expect(done.status).toBe('COMPLETED');
  });

  it('no previews without "preview": true', async () => {
    const { id } = await endpoint.run(job('no-previews', 50) as never);
    const chunks: unknown[] = [];
    for await (const c of endpoint.stream(id)) chunks.push(c);
    expect(chunks).toEqual([]);
  });
});

describe('cancel and per-job timeout', () => {
  it('cancel mid-generation interrupts A1111 within one progress interval', async () => {
    const { id } = await endpoint.run(job('cancel-me', 150, 4) as never); // 6 s
    await until(
      async () => {
        const s = (await endpoint.status(id)) as Status;
        return s.status === 'IN_PROGRESS' && (s.output?.step ?? 0) > 0;
      },
      { everyMs: 20, what: 'progress of the job' },
    );
    const since = (await sim.requests()).length;
    const t0 = performance.timeOrigin + performance.now();
    expect((await endpoint.cancel(id)).status).toBe('CANCELLED');
    const interruptAt = await until(async () => (await sim.requests(since)).find((r) => r.path === '/sdapi/v1/interrupt')?.receivedAt, {
      everyMs: 20,
      what: 'the interrupt at A1111',
    });
    expect(interruptAt - t0).toBeLessThan(1000); // one PROGRESS_INTERVAL_MS default; here the stop arrives at once
    const next = await endpoint.runSync(job('after-cancel', 5) as never);
    expect(next.status).toBe('COMPLETED');
    expect(((await endpoint.status(id)) as Status).status).toBe('CANCELLED');
  });

  it('a job with timeout_s fails with a message after that time and interrupts A1111', async () => {
    const since = (await sim.requests()).length;
    const r = await endpoint.runSync(job('too-long', 150, 3, { timeout_s: 0.5 }) as never); // 4.5 s of work
    expect(r.status).toBe('FAILED');
    expect((r as unknown as Status).error).toBe('A1111 timeout on POST /sdapi/v1/txt2img: no answer within 500 ms (timeout_s); sent POST /sdapi/v1/interrupt');
    expect((await sim.requests(since)).some((x) => x.path === '/sdapi/v1/interrupt')).toBe(true);
    const bad = await endpoint.runSync(job('bad-timeout', 5, 1, { timeout_s: 'soon' }) as never);
    expect((bad as unknown as Status).error).toBe('input.timeout_s: "soon" is not allowed (must be a number of seconds > 0)');
  });
});

describe('names checked against A1111 (STRICT_NAMES)', () => {
  it('a misspelt sampler fails with a suggestion and the valid names; a combined name goes through unchanged (A1111 splits it)', async () => {
    const before = (await sim.requests()).length;
    const bad = (await endpoint.runSync({ input: { prompt: 'typo', steps: 5, width: 64, height: 64, sampler_name: 'DPM++ 2M Karas' } } as never)) as unknown as Status;
    expect(bad.status).toBe('FAILED');
    expect(bad.error).toMatch(/^sampler_name: "DPM\+\+ 2M Karas" is not an A1111 sampler \(did you mean "DPM\+\+ 2M" with scheduler "[Kk]arras"\?\); valid: DPM\+\+ 2M, /);
    expect((await sim.requests(before)).some((r) => r.path === '/sdapi/v1/txt2img' && (r.body as { prompt?: string }).prompt === 'typo')).toBe(false);
    const split = await endpoint.runSync({ input: { prompt: 'combined', steps: 5, width: 64, height: 64, sampler_name: 'DPM++ 2M Karras' } } as never);
    expect(split.status).toBe('COMPLETED');
    const sent = (await sim.requests(before)).find((r) => r.path === '/sdapi/v1/txt2img' && (r.body as { prompt?: string }).prompt === 'combined')!;
    expect(sent.body).toEqual({ prompt: 'combined', steps: 5, width: 64, height: 64, sampler_name: 'DPM++ 2M Karras' });
  });
});

describe('warm-up', () => {
  it('runs one tiny generation after readiness and before the first job-take, once', async () => {
    const sim2 = await startSimProcess(['--step-ms', '10', '--first-load-delay-ms', '1000']);
    const ep = await startTestEndpoint({ takeHoldMs: 200 });
    try {
      const w = startWorker(workerEnv(ep, 'w-warm', { A1111_URL: sim2.url, A1111_WARMUP: 'true', RUNPOD_DEBUG_LEVEL: 'INFO' }));
      const firstTake = await until(() => ep.requests().find((r) => r.kind === 'take'), 'the first job-take');
      await resultOf(ep, await run(ep, { prompt: 'x', steps: 2, width: 64, height: 64 }));
      const gens = (await sim2.requests()).filter((r) => r.path === '/sdapi/v1/txt2img');
      expect(gens).toHaveLength(2);
      expect(gens[0]!.body).toEqual({ prompt: 'warm-up', steps: 1, width: 64, height: 64, batch_size: 1, n_iter: 1, send_images: false, save_images: false });
      expect(gens[0]!.respondedAt).toBeLessThan(firstTake.receivedAt);
      expect(gens[0]!.respondedAt - gens[0]!.receivedAt).toBeGreaterThanOrEqual(1000); // it paid the model load
      expect(gens[1]!.respondedAt - gens[1]!.receivedAt).toBeLessThan(1000); // the job (2 × 10 ms) did not
      expect(w.stdout()).toMatch(/A1111 ready at .* after \d+ ms\./);
      expect(w.stdout()).toMatch(/A1111 warm-up \(txt2img 1 step\(s\), 64×64\) took \d+ ms\./);
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
    } finally {
      await ep.close();
      await sim2.close();
    }
  });

  it('a failing warm-up exits non-zero with A1111 message', async () => {
    const sim2 = await startSimProcess(['--step-ms', '1', '--fail-next', '2', '--fail-status', '500']);
    const ep = await startTestEndpoint({ takeHoldMs: 200 });
    try {
      // --fail-next also hits the readiness probe; A1111_WARMUP names an unknown script so it fails for sure.
      const w = startWorker(workerEnv(ep, 'w-warm-fail', { A1111_URL: sim2.url, A1111_WARMUP: '{"prompt":"x","steps":1,"width":64,"height":64,"script_name":"no such script"}' }));
      expect(await w.exited).toBe(1);
      expect(w.stdout()).toMatch(/A1111 warm-up failed: A1111 422 on POST \/sdapi\/v1\/txt2img: .*no such script/);
      expect(recordsOf(ep, 'take')).toEqual([]);
    } finally {
      await ep.close();
      await sim2.close();
    }
  });
});
