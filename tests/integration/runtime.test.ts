/**
 * The worker runtime (`startWorker` of handler/runpod/) on an in-memory platform: its named states, the job-take
 * loop, result bodies, drain, stop channel, fatal ends. Handlers are plain functions: the runtime knows nothing of
 * A1111, and the loop knows no wire (the HTTP platform is tested in runpod-platform.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { A1111ExitedError, StartupCheckError } from '../../handler/errors/index.js';
import type { Handler, StartWorkerOptions, StateChange } from '../../handler/runpod/index.js';
import { memoryPlatform, startMemoryWorker, type MemoryWorker } from '../helpers/memory-platform.js';
import { until } from '../helpers/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A worker on an in-memory platform, stopped after the test. */
function setup(handler: Handler, opts: Partial<StartWorkerOptions> = {}, platform = memoryPlatform()): MemoryWorker {
  const started = startMemoryWorker(handler, opts, platform);
  cleanups.push(async () => {
    started.worker.stop('test over');
    await started.worker.done;
  });
  return started;
}

const states = (changes: StateChange[]): string[] => changes.map((c) => c.to);

describe('named states', () => {
  it('starting → ready → running → draining → stopped, each logged and told to listeners', async () => {
    let ready!: () => void;
    const { worker, lines, changes } = setup(async () => 'x', { ready: () => new Promise<void>((r) => (ready = r)) });
    expect(worker.state).toBe('starting');
    await until(() => ready !== undefined, 'ready() to be called');
    ready();
    await until(() => worker.state === 'running', 'the running state');
    worker.stop('SIGTERM');
    expect(await worker.done).toBe(0);
    expect(worker.state).toBe('stopped');
    expect(states(changes)).toEqual(['starting', 'ready', 'running', 'draining', 'stopped']);
    expect(changes.at(-1)).toMatchObject({ from: 'draining', to: 'stopped', exitCode: 0 });
    expect(changes[3]).toMatchObject({ from: 'running', reason: 'SIGTERM' });
    expect(lines.filter((l) => l.message.startsWith('Worker state:')).map((l) => l.message)).toEqual([
      'Worker state: starting.',
      'Worker state: starting → ready.',
      'Worker state: ready → running.',
      'Worker state: running → draining (SIGTERM).',
      'Worker state: draining → stopped.',
    ]);
  });

  it('a stop during ready() drains without running: exit 0, no job-take', async () => {
    const { worker, platform, changes } = setup(async () => 'x', {
      ready: (signal) => new Promise<void>((_r, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
    });
    worker.stop('SIGINT');
    expect(await worker.done).toBe(0);
    expect(states(changes)).toEqual(['starting', 'draining', 'stopped']);
    expect(platform.calls.filter((c) => c.kind === 'take')).toEqual([]);
  });

  it('ready() failing is a fatal end: logged, heartbeat stopped, unhealthy report, exit 1', async () => {
    const { worker, platform, lines, changes } = setup(async () => 'x', {
      ready: async () => {
        throw new A1111ExitedError(1234, 'http://127.0.0.1:3000');
      },
      reportUnhealthy: true,
    });
    expect(await worker.done).toBe(1);
    expect(states(changes)).toEqual(['starting', 'draining', 'stopped']);
    expect(changes.at(-1)!.cause).toBeInstanceOf(A1111ExitedError);
    expect(platform.heartbeat).toMatchObject({ started: 1, stopped: 1 });
    expect(platform.unhealthy).toEqual([{ check: 'a1111_exited', reason: expect.stringMatching(/^A1111ExitedError: /) }]);
    expect(lines.some((l) => l.level === 'ERROR' && / Exiting with code 1\.$/.test(l.message))).toBe(true);
  });

  it('a failed start-up check ends before the heartbeat: "Worker is unhealthy", report, exit 1', async () => {
    let released = false;
    const checks = { skipGpu: true, skipSystem: false, minMemoryGb: 1e9, minDiskPercent: 0, minFreeDiskGb: 0, diskPaths: null, volumePath: '/nowhere', a1111Dir: '/nowhere', gpusNeeded: 1 };
    const { worker, platform, lines, changes } = setup(async () => 'x', { startupChecks: checks, reportUnhealthy: true, onDrained: () => void (released = true) });
    expect(await worker.done).toBe(1);
    expect(states(changes)).toEqual(['starting', 'stopped']);
    expect(changes.at(-1)!.cause).toBeInstanceOf(StartupCheckError);
    expect(platform.heartbeat.started).toBe(0);
    expect(released).toBe(true);
    expect(platform.unhealthy.map((u) => u.check)).toEqual(['memory']);
    expect(lines.some((l) => l.message === 'Worker is unhealthy, exiting.')).toBe(true);
  });

  it('fail() while a job runs: the job finishes and posts, then exit 1 with the report', async () => {
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const { worker, platform } = setup(
      async () => {
        started();
        await new Promise((r) => setTimeout(r, 200));
        return { finished: true };
      },
      { reportUnhealthy: true },
    );
    platform.enqueue({ id: 'f1', input: {} });
    await startedP;
    worker.fail(new Error('backend gone'), 'A1111 cannot be used: backend gone');
    expect(await worker.done).toBe(1);
    expect((await platform.waitForResult('f1')).body).toEqual({ output: { finished: true } });
    expect(platform.unhealthy.map((u) => u.check)).toEqual(['worker_error']);
  });

  it('beforeTake failing is a fatal end; a stop after it is harmless', async () => {
    const { worker, changes, lines } = setup(async () => 'x', {
      beforeTake: async () => {
        throw new Error('backend gone for good');
      },
    });
    expect(await worker.done).toBe(1);
    expect(states(changes)).toEqual(['starting', 'ready', 'running', 'draining', 'stopped']);
    expect(lines.some((l) => l.message === 'Worker cannot continue: backend gone for good')).toBe(true);
    worker.stop('late');
    expect(worker.state).toBe('stopped');
  });

  it('the first of its signals drains the worker', async () => {
    const { worker, lines } = setup(async () => 'x', { signals: ['SIGUSR2'] });
    await until(() => worker.state === 'running', 'the running state');
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(await worker.done).toBe(0);
    expect(lines.some((l) => l.message === 'SIGUSR2 received. Shutting down.')).toBe(true);
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });
});

describe('job-take → handler → job-done', () => {
  it('posts the result; the heartbeat lists the job while it is held, and not after', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const { platform, lines } = setup(async (job) => {
      await released;
      return { echo: job.input, id: job.id };
    });
    platform.enqueue({ id: 'j1-u1', input: { prompt: 'hi' } });
    await until(() => platform.heartbeat.held.at(-1)?.includes('j1-u1') === true, 'the heartbeat to list the job');
    release();
    const rec = await platform.waitForResult('j1-u1');
    expect(rec.body).toEqual({ output: { echo: { prompt: 'hi' }, id: 'j1-u1' } });
    expect(rec.isStream).toBe(false);
    expect(platform.calls.find((c) => c.kind === 'take' && c.jobId === 'j1-u1')).toMatchObject({ count: 1, jobInProgress: false });
    await until(() => platform.heartbeat.held.length === 2, 'the job released');
    expect(platform.heartbeat.held).toEqual([['j1-u1'], []]);
    expect(lines.some((l) => l.message === 'Started.' && l.requestId === 'j1-u1')).toBe(true);
    expect(lines.some((l) => l.message === 'Finished.' && l.requestId === 'j1-u1' && l.level === 'INFO')).toBe(true);
  });

  it('turns error / refresh_worker outputs and exceptions into FAILED bodies', async () => {
    const { platform } = setup(async (job) => {
      if (job.id === 'a') return { error: 'bad input', refresh_worker: true };
      throw new RangeError('kaboom');
    });
    platform.enqueue({ id: 'a', input: {} }, { id: 'b', input: {} });
    expect((await platform.waitForResult('a')).body).toEqual({ error: 'bad input', stopPod: true });
    const b = (await platform.waitForResult('b')).body as { error: string };
    expect(JSON.parse(b.error)).toMatchObject({ error_type: "<class 'RangeError'>", error_message: 'kaboom', hostname: 'host1', worker_id: 'w42', runpod_version: '0.1.0' });
  });

  it('runs one job at a time and never takes while a handler runs (concurrency 1)', async () => {
    let running = 0;
    let maxRunning = 0;
    const { platform } = setup(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 100));
      running--;
      return { ok: true };
    });
    platform.enqueue({ id: 'c1', input: {} }, { id: 'c2', input: {} }, { id: 'c3', input: {} });
    await platform.waitForResult('c3');
    expect(maxRunning).toBe(1);
    const takes = platform.calls.filter((c) => c.kind === 'take');
    expect(takes.every((t) => t.count === 1)).toBe(true);
    expect(takes[0]!.jobInProgress).toBe(false);
  });

  it('asks for as many jobs as there are free slots (job-take-batch) and says a job is in progress', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { platform } = setup(async () => gate.then(() => 'ok'), { concurrency: () => 3 });
    platform.enqueue({ id: 'b1', input: {} });
    await until(() => platform.takesWaiting() === 1, 'the next job-take');
    platform.enqueue({ id: 'b2', input: {} }, { id: 'b3', input: {} });
    await until(() => platform.calls.some((c) => c.kind === 'take' && c.jobId === 'b2,b3'), 'b2 and b3 taken together');
    expect(platform.calls.filter((c) => c.kind === 'take' && c.outcome === 'jobs').map((c) => [c.count, c.jobInProgress])).toEqual([
      [3, false],
      [2, true],
    ]);
    release();
    await platform.waitForResult('b3');
  });

  it('fails a malformed job of a batch alone (with an id) or skips it (without)', async () => {
    const { platform, worker } = setup(async () => 'fine');
    platform.answerNextTake({ kind: 'jobs', jobs: [{ id: 'ok-1', input: {} }], malformed: [{ id: 'bad-1', reason: 'job 2 has no "input"' }, { reason: 'job 3 is not a JSON object' }] });
    expect((await platform.waitForResult('bad-1')).body).toEqual({ error: 'malformed job: job 2 has no "input"' });
    expect((await platform.waitForResult('ok-1')).body).toEqual({ output: 'fine' });
    await until(() => worker.stats.failed === 1 && worker.stats.completed === 1, 'both counted');
    expect(worker.stats.malformedJobs).toBe(2);
  });
});

describe('a result post and the next job-take do not wait on each other', () => {
  it('the slot frees when the handler returns: the next job runs during the post (job_in_progress=1, both in the heartbeat)', async () => {
    const { platform } = setup(async (job) => {
      // The heartbeat's list follows the held jobs after each turn's writes: h2 returns once it is listed.
      if (job.id === 'h2') await until(() => platform.heartbeat.held.at(-1)?.length === 2, 'both jobs in the heartbeat');
      return { id: job.id };
    });
    const release = platform.holdDone('h1');
    cleanups.push(release);
    platform.enqueue({ id: 'h1', input: {} }, { id: 'h2', input: {} });
    // h2 is taken, run and posted while the platform has not answered h1's post.
    await platform.waitForResult('h2');
    expect(platform.results().map((c) => c.jobId)).toEqual(['h2']);
    expect(platform.calls.find((c) => c.kind === 'take' && c.jobId === 'h2')).toMatchObject({ count: 1, jobInProgress: true });
    await until(() => platform.heartbeat.held.length === 3, 'h2 to leave the heartbeat');
    expect(platform.heartbeat.held).toEqual([['h1'], ['h1', 'h2'], ['h1']]);
    release();
    expect((await platform.waitForResult('h1')).body).toEqual({ output: { id: 'h1' } });
    await until(() => platform.heartbeat.held.at(-1)?.length === 0, 'h1 to leave the heartbeat');
  });

  it('at most one post per slot in flight: a third job waits until a held post ends', async () => {
    const returned = new Set<string>();
    const { platform } = setup(async (job) => void returned.add(job.id));
    const release1 = platform.holdDone('q1');
    const release2 = platform.holdDone('q2');
    cleanups.push(release1, release2);
    platform.enqueue({ id: 'q1', input: {} }, { id: 'q2', input: {} }, { id: 'q3', input: {} });
    await until(() => returned.has('q2'), 'q2 to run during the post of q1');
    release1();
    await platform.waitForResult('q1');
    await until(() => returned.has('q3'), 'q3 to run once a post ended');
    const takeOfQ3 = platform.calls.find((c) => c.kind === 'take' && c.jobId === 'q3')!;
    expect(takeOfQ3.at).toBeGreaterThanOrEqual(platform.results().find((c) => c.jobId === 'q1')!.at);
    release2();
    await platform.waitForResult('q3');
  });

  it('a stop while a post is held and the next job runs: both are posted, then exit 0', async () => {
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const { platform, worker } = setup(async (job) => {
      if (job.id === 'd2') {
        started();
        await new Promise((r) => setTimeout(r, 50));
      }
      return job.id;
    });
    const release = platform.holdDone('d1');
    cleanups.push(release);
    platform.enqueue({ id: 'd1', input: {} }, { id: 'd2', input: {} });
    await startedP;
    worker.stop('SIGTERM');
    await platform.waitForResult('d2');
    release();
    expect(await worker.done).toBe(0);
    expect(platform.results().map((c) => [c.jobId, c.body])).toEqual([
      ['d2', { output: 'd2' }],
      ['d1', { output: 'd1' }],
    ]);
  });
});

describe('job-take answers', () => {
  it('backs off on repeated errors instead of hot-looping (p-retry, 100 ms doubling)', async () => {
    const { platform, worker, lines } = setup(async () => 'x');
    for (let i = 0; i < 5; i++) platform.answerNextTake({ kind: 'error', message: `boom ${i}` });
    platform.enqueue({ id: 'after-errors', input: {} });
    await platform.waitForResult('after-errors');
    const takes = platform.calls.filter((c) => c.kind === 'take');
    // 100, 200, 400, 800 ms between the failed takes (a slow machine only makes the gaps longer).
    const gaps = takes.slice(1, 5).map((t, i) => t.at - takes[i]!.at);
    gaps.forEach((gap, i) => expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(0.9 * 100 * 2 ** i));
    expect(worker.stats.takeErrors).toBe(5);
    expect(lines.filter((l) => l.level === 'ERROR' && l.message.startsWith('Failed to get job. | boom')).length).toBe(5);
  });

  it('pauses after a 429 (throttled)', async () => {
    const { platform } = setup(async () => 'x');
    platform.answerNextTake({ kind: 'throttled' });
    platform.enqueue({ id: 'after-429', input: {} });
    await platform.waitForResult('after-429');
    const takes = platform.calls.filter((c) => c.kind === 'take');
    expect(takes[1]!.at - takes[0]!.at).toBeGreaterThanOrEqual(270);
  });
});

describe('results that do not reach the platform', () => {
  it('a refused result (4xx) gets one FAILED fallback; a give-up is logged with the job id and counted', async () => {
    const { platform, worker, lines } = setup(async () => ({ v: 1 }));
    platform.failDone(1, 400);
    platform.enqueue({ id: 'refused-4xx', input: {} });
    const fallback = await platform.waitForResult('refused-4xx');
    expect(fallback).toMatchObject({ body: { error: expect.stringMatching(/HTTP 400/) }, what: 'FAILED fallback of a refused result' });
    platform.failDone(1, 503);
    platform.enqueue({ id: 'lost-5xx', input: {} }, { id: 'kept', input: {} });
    await platform.waitForResult('kept');
    await until(() => worker.stats.completed === 1, 'the job to count as completed');
    expect(worker.stats).toMatchObject({ resultsLost: 1, resultsRefused: 1, failed: 1 });
    expect(lines.filter((l) => l.level === 'ERROR' && /is lost/.test(l.message)).map((l) => l.requestId)).toEqual(['lost-5xx']);
  });
});

describe('progress and stream', () => {
  it('progress is posted in order and never after the final result; a streamed job ends with isStream', async () => {
    const { platform } = setup(async (job, ctx) => {
      for (let i = 1; i <= 5; i++) ctx.progress({ step: i });
      if (job.id === 's1') await ctx.stream({ chunk: 1 });
      await new Promise((r) => setTimeout(r, 20));
      ctx.progress({ step: 6 });
      return { final: true };
    });
    platform.enqueue({ id: 'p1', input: {} }, { id: 's1', input: {} });
    await platform.waitForResult('s1');
    const p1 = platform.calls.filter((c) => c.jobId === 'p1' && (c.kind === 'progress' || c.kind === 'done'));
    expect(p1.at(-1)).toMatchObject({ kind: 'done', body: { output: { final: true } }, isStream: false });
    expect(p1.slice(0, -1).map((c) => (c.body as { output: { step: number } }).output.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(platform.calls.find((c) => c.kind === 'stream')).toMatchObject({ jobId: 's1', body: { output: { chunk: 1 } } });
    expect((await platform.waitForResult('s1')).isStream).toBe(true);
  });
});

describe('per-job stop channel', () => {
  it('aborts the running job named on job-stop and posts nothing for it; the next job runs', async () => {
    let aborted: unknown;
    let listening!: () => void;
    const listeningP = new Promise<void>((r) => (listening = r));
    const { platform, worker, lines } = setup(async (job, ctx) => {
      if (job.id !== 'cancel-me') return 'next ok';
      const abortedP = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      listening();
      await abortedP;
      aborted = ctx.signal.reason;
      return { late: 'must not be posted' };
    });
    platform.enqueue({ id: 'cancel-me', input: {} });
    await listeningP;
    platform.stopJob('cancel-me');
    await until(() => worker.stats.stopped === 1, 'the job to be stopped');
    expect(String(aborted)).toMatch(/stopped by the platform/);
    platform.enqueue({ id: 'next', input: {} });
    expect((await platform.waitForResult('next')).body).toEqual({ output: 'next ok' });
    expect(platform.calls.filter((c) => c.kind === 'done' && c.jobId === 'cancel-me')).toEqual([]);
    expect(lines.some((l) => l.message === 'Job stopped.' && l.requestId === 'cancel-me')).toBe(true);
  });

  it('without a stop channel, says so and runs jobs', async () => {
    const { platform, lines } = setup(async () => 'ok', {}, memoryPlatform({ hasStopChannel: false }));
    platform.enqueue({ id: 'no-stop', input: {} });
    await platform.waitForResult('no-stop');
    expect(lines.some((l) => l.level === 'WARN' && l.message.startsWith('Stop channel could not be derived'))).toBe(true);
  });
});

describe('stop (drain)', () => {
  it('while idle: aborts the waiting job-take and returns at once', async () => {
    const { platform, worker } = setup(async () => 'x');
    await until(() => platform.takesWaiting() === 1, 'a job-take held in the long-poll');
    const t0 = performance.now();
    worker.stop('SIGTERM');
    expect(await worker.done).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('during a job: the job finishes, its result is posted, no further take', async () => {
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const { platform, worker, lines } = setup(async () => {
      started();
      await new Promise((r) => setTimeout(r, 300));
      return { finished: true };
    });
    platform.enqueue({ id: 's1', input: {} });
    await startedP;
    worker.stop('SIGTERM');
    expect(await worker.done).toBe(0);
    const result = await platform.waitForResult('s1', 100);
    expect(result.body).toEqual({ output: { finished: true } });
    expect(platform.calls.filter((c) => c.kind === 'take' && c.at > result.at)).toEqual([]);
    expect(lines.some((l) => l.message === 'Worker stopped: 1 job(s) taken, 1 completed, 0 failed, 0 stopped, 0 result(s) lost.')).toBe(true);
  });
});
