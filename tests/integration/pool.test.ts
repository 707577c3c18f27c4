/**
 * Several A1111 backends (issue 6 item 5) against real simulators on loopback: readiness per backend, least-busy
 * leases released in `finally`, a dead backend taken out and re-probed, progress and interrupt sent to the job's
 * own backend, and no `refresh_worker` while another backend is ready.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { A1111Pool } from '../../handler/a1111/pool.js';
import { createA1111Handler, type JobContext } from '../../handler/jobs/handler.js';
import { silentLog } from '../../handler/log.js';
import { loadConfig } from '../../handler/config.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { a1111Config, closedPort } from '../helpers/fixtures.js';
import { until } from '../helpers/wait.js';

const limits = loadConfig([], {}).limits;
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function sim(opts: Parameters<typeof startSimulator>[0] = { port: 0, stepMs: 0 }): Promise<Simulator> {
  const s = await startSimulator(opts);
  cleanup.push(() => s.close());
  return s;
}

function pool(urls: string[], over: Partial<Parameters<typeof a1111Config>[0]> = {}): A1111Pool {
  const p = new A1111Pool(a1111Config({ url: urls[0]!, urls, readyTimeoutMs: 2000, ...over }), silentLog, { slowProbeIntervalMs: 50 });
  cleanup.push(() => p.close());
  return p;
}

function ctx(signal: AbortSignal = new AbortController().signal, progress: unknown[] = []): JobContext {
  return {
    signal,
    rawJson: (b) => JSON.parse(b.toString('utf8')),
    progress: (o) => void progress.push(o),
    stream: async () => {},
  };
}

/** Leases a backend and gives it back at once (a job that finds every backend as it left them); returns its URL. */
function leaseOnce(p: A1111Pool): string {
  const lease = p.acquire()!;
  lease.release();
  return lease.backend.url;
}

const txt2img = (prompt: string, steps = 1) => ({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt, steps, width: 64, height: 64 } });
const generations = (s: Simulator) => s.requests.filter((r) => r.path === '/sdapi/v1/txt2img');

describe('A1111Pool', () => {
  it('waits for every backend; readyCount is the number that answered; leases go to the least busy and are given back', async () => {
    const [a, b] = [await sim(), await sim()];
    const p = pool([a.url, b.url]);
    const changes: number[] = [];
    p.onChange(() => changes.push(p.readyCount));
    await p.start();
    await until(() => p.readyCount === 2, 'both ready');
    expect(changes.at(-1)).toBe(2);

    const l1 = p.acquire()!;
    const l2 = p.acquire()!;
    expect(new Set([l1.backend.url, l2.backend.url])).toEqual(new Set([a.url, b.url]));
    const l3 = p.acquire()!; // both busy with one job: the tie goes to the one after the last leased, round the list
    expect(l3.backend.url).toBe(l1.backend.url);
    expect(l1.backend.inFlight).toBe(2);
    expect(l2.backend.inFlight).toBe(1);
    l1.release();
    l1.release(); // idempotent
    l3.release();
    expect(l1.backend.inFlight).toBe(0);
    expect(p.acquire()!.backend.url).toBe(l1.backend.url); // the least busy, though the rotation is at the other
  });

  it('ties go round-robin: leases one at a time (all idle) visit the backends in turn; with one busy, the others share', async () => {
    const sims = await Promise.all([0, 1, 2, 3].map(() => sim()));
    const urls = sims.map((s) => s.url);
    const p = pool(urls);
    await p.start();
    await until(() => p.readyCount === 4, 'all four ready');
    const oneAtATime = (n: number): string[] => Array.from({ length: n }, () => leaseOnce(p));
    const first = oneAtATime(4);
    expect(new Set(first)).toEqual(new Set(urls));
    expect(oneAtATime(8)).toEqual([...first, ...first]);

    const busy = p.acquire()!;
    const others = urls.filter((u) => u !== busy.backend.url);
    const shared = oneAtATime(6);
    expect(new Set(shared.slice(0, 3))).toEqual(new Set(others));
    expect(shared.slice(3)).toEqual(shared.slice(0, 3));
    busy.release();
    expect(p.backends.map((x) => x.inFlight)).toEqual([0, 0, 0, 0]);
    expect(p.backends.map((x) => x.jobs).reduce((a, b) => a + b)).toBe(19);
  });

  it('the rotation skips a backend that is down and goes on from the last leased once one is removed', async () => {
    const [a, b, c] = [await sim(), await sim(), await sim()];
    const port = await closedPort();
    const p = pool([a.url, b.url, c.url, `http://127.0.0.1:${port}`], { readyTimeoutMs: 300 });
    await p.start();
    await until(() => p.readyCount === 3 && p.backends[3]!.state === 'down', 'three ready, the closed port down');
    const next = (): string => leaseOnce(p);
    expect([next(), next(), next(), next()]).toEqual([a.url, b.url, c.url, a.url]);
    expect(p.remove(a.url)).toBe(true); // the backend leased last leaves: the search starts from the first listed
    expect([next(), next(), next()]).toEqual([b.url, c.url, b.url]);
  });

  it('a backend that never answers is down after its deadline with its own error; the pool runs on the other; it joins once it answers', async () => {
    const a = await sim();
    const port = await closedPort();
    const late = `http://127.0.0.1:${port}`;
    const p = pool([a.url, late], { readyTimeoutMs: 300 });
    await p.start();
    await until(() => p.backends[1]!.state === 'down', 'the closed port to be down');
    expect(p.readyCount).toBe(1);
    expect(p.acquire()!.backend.url).toBe(a.url);
    await sim({ port, stepMs: 0 });
    await until(() => p.readyCount === 2, 're-probe to find it');
  });

  it('no backend ever ready: start fails with the client error (one backend) or all of them (several)', async () => {
    const one = `http://127.0.0.1:${await closedPort()}`;
    await expect(pool([one], { readyTimeoutMs: 300 }).start()).rejects.toThrow(new RegExp(`^A1111 at ${one} not ready after 0 s`));
    const two = `http://127.0.0.1:${await closedPort()}`;
    await expect(pool([one, two], { readyTimeoutMs: 300 }).start()).rejects.toThrow(/^no A1111 backend ready: A1111 at .* not ready .*; A1111 at .* not ready/);
  });
});

describe('the handler on a pool', () => {
  it('spreads simultaneous jobs over the backends and counts them down when they end', async () => {
    const [a, b] = [await sim({ port: 0, stepMs: 20 }), await sim({ port: 0, stepMs: 20 })];
    const p = pool([a.url, b.url]);
    await p.start();
    await until(() => p.readyCount === 2, 'both ready');
    const handler = createA1111Handler({ client: p, limits, log: silentLog });
    const outs = await Promise.all([0, 1, 2, 3].map((i) => handler({ id: `j${i}`, input: txt2img(`job ${i}`, 5) }, ctx())));
    for (const o of outs) expect((o as { images: string[] }).images).toHaveLength(1);
    expect(generations(a)).toHaveLength(2);
    expect(generations(b)).toHaveLength(2);
    expect(p.backends.map((x) => x.inFlight)).toEqual([0, 0]);
    expect(p.backends.map((x) => x.jobs)).toEqual([2, 2]);
  });

  it('jobs one at a time go to each of four backends in turn', async () => {
    const sims = await Promise.all([0, 1, 2, 3].map(() => sim()));
    const p = pool(sims.map((s) => s.url));
    await p.start();
    await until(() => p.readyCount === 4, 'all four ready');
    const handler = createA1111Handler({ client: p, limits, log: silentLog });
    for (let i = 0; i < 8; i++) {
      const out = (await handler({ id: `s${i}`, input: txt2img(`job ${i}`) }, ctx())) as { images: string[] };
      expect(out.images).toHaveLength(1);
    }
    expect(sims.map((s) => generations(s).length)).toEqual([2, 2, 2, 2]);
    expect(p.backends.map((x) => x.jobs)).toEqual([2, 2, 2, 2]);
  });

  it('the in-flight count drops also when the job fails (A1111 500)', async () => {
    const [a, b] = [await sim(), await sim()];
    const p = pool([a.url, b.url]);
    await p.start();
    await until(() => p.readyCount === 2, 'both ready');
    a.injectFault({ route: 'txt2img', kind: 'status', status: 500, count: 1 });
    const handler = createA1111Handler({ client: p, limits, log: silentLog });
    const out = (await handler({ id: 'f', input: txt2img('fails') }, ctx())) as { error?: string };
    expect(out.error).toMatch(/^A1111 500 on POST \/sdapi\/v1\/txt2img/);
    expect(p.backends.map((x) => x.inFlight)).toEqual([0, 0]);
    expect(p.readyCount).toBe(2);
  });

  it('progress polls and the interrupt of a cancelled job go to the backend running it, not the other', async () => {
    const [a, b] = [await sim({ port: 0, stepMs: 30 }), await sim({ port: 0, stepMs: 30 })];
    const p = pool([a.url, b.url], { progressIntervalMs: 40 });
    await p.start();
    await until(() => p.readyCount === 2, 'both ready');
    const busy = p.acquire()!; // the first backend is busy: the job goes to the second
    const handler = createA1111Handler({ client: p, limits, log: silentLog });
    const stop = new AbortController();
    const progress: unknown[] = [];
    const job = handler({ id: 'c', input: txt2img('long', 100) }, ctx(stop.signal, progress));
    await until(() => progress.length > 0, 'a progress update');
    stop.abort(new Error('cancelled'));
    await job.catch(() => undefined);
    busy.release();
    await until(() => b.requests.some((r) => r.path === '/sdapi/v1/interrupt'), 'the interrupt');
    expect(generations(b)).toHaveLength(1);
    expect(b.requests.filter((r) => r.path === '/sdapi/v1/progress').length).toBeGreaterThan(0);
    expect(a.requests.filter((r) => ['/sdapi/v1/txt2img', '/sdapi/v1/progress', '/sdapi/v1/interrupt'].includes(r.path))).toEqual([]);
  });

  it('a backend that dies mid-job: the job fails without refresh_worker (another is ready), the backend is taken out, re-probed and back', async () => {
    const a = await sim({ port: 0, stepMs: 0 });
    const port = await closedPort();
    let dying = await startSimulator({ port, stepMs: 50 });
    cleanup.push(() => dying.close());
    const p = pool([a.url, dying.url], { readyTimeoutMs: 5000 });
    await p.start();
    await until(() => p.readyCount === 2, 'both ready');
    const busy = p.acquire()!; // keep the first busy so the job lands on the dying one
    const handler = createA1111Handler({ client: p, limits, log: silentLog });
    // The generation hangs, then the process "dies": its connections are dropped and its port closes.
    dying.injectFault({ route: 'txt2img', kind: 'hang', count: 1 });
    const job = handler({ id: 'd', input: txt2img('dies', 40) }, ctx());
    await until(() => generations(dying).length === 1, 'the job to start');
    await dying.close();
    const out = (await job) as { error?: string; refresh_worker?: boolean };
    busy.release();
    expect(out.error).toMatch(/^A1111 unreachable on POST \/sdapi\/v1\/txt2img/);
    expect(out.refresh_worker).toBeUndefined();
    expect(p.backends[1]!.state).toBe('down');
    expect(p.readyCount).toBe(1);
    // The next job runs on the live backend.
    expect(((await handler({ id: 'n', input: txt2img('next') }, ctx())) as { images: string[] }).images).toHaveLength(1);
    dying = await startSimulator({ port, stepMs: 0 });
    await until(() => p.readyCount === 2, 'the restarted backend to be back');
  });

  it('the last ready backend dying still asks RunPod to refresh the worker', async () => {
    const port = await closedPort();
    const only = await startSimulator({ port, stepMs: 50 });
    const p = pool([only.url]);
    await p.start();
    const handler = createA1111Handler({ client: p, limits, log: silentLog });
    only.injectFault({ route: 'txt2img', kind: 'hang', count: 1 });
    const job = handler({ id: 'x', input: txt2img('dies', 40) }, ctx());
    await until(() => generations(only).length === 1, 'the job to start');
    await only.close();
    expect(await job).toMatchObject({ refresh_worker: true });
    expect(p.readyCount).toBe(0);
    expect(await handler({ id: 'y', input: txt2img('none left') }, ctx())).toEqual({
      error: `A1111 unreachable: no backend ready (${only.url} down)`,
      refresh_worker: true,
    });
  });
});
