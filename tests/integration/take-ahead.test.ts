/**
 * Take-ahead in the worker runtime, on an in-memory platform: a handler says when it will return
 * (`HandlerContext.endsIn`); once that is within `takeAheadMs` the next job is taken and held, not started, until the
 * slot frees. A held job is like a running one for the platform: the heartbeat lists it, the job-takes say
 * `job_in_progress=1`, a job-stop drops it with nothing posted, a drain runs and posts it, its handler starts when
 * its slot frees.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Handler, HandlerContext, StartWorkerOptions } from '../../handler/runpod/index.js';
import { startMemoryWorker, type MemoryWorker } from '../helpers/memory-platform.js';
import { until } from '../helpers/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  // In order: the handlers' gates open before the worker is stopped (a drain waits for them).
  while (cleanups.length) await cleanups.shift()!();
});

/** A worker with take-ahead on (1 s unless `opts` says otherwise), stopped after the test. */
function setup(handler: Handler, opts: Partial<StartWorkerOptions> = {}): MemoryWorker {
  const started = startMemoryWorker(handler, { takeAheadMs: 1000, ...opts });
  cleanups.push(async () => {
    started.worker.stop('test over');
    await started.worker.done;
  });
  return started;
}

/** A handler whose jobs run until released; each records when it started and returned (`performance.now()`). */
function gatedHandler(onStart: (id: string, ctx: HandlerContext) => void = () => undefined) {
  const gates = new Map<string, () => void>();
  let over = false;
  const started = new Map<string, number>();
  const returned = new Map<string, number>();
  const handler: Handler = async (job, ctx) => {
    started.set(job.id, performance.now());
    const gate = over ? Promise.resolve() : new Promise<void>((r) => gates.set(job.id, r));
    onStart(job.id, ctx);
    await gate;
    returned.set(job.id, performance.now());
    return { done: job.id };
  };
  const release = (id: string): void => gates.get(id)!();
  cleanups.push(() => {
    over = true;
    gates.forEach((r) => r());
  });
  return { handler, started, returned, release };
}

const takeOf = (w: MemoryWorker, id: string) => w.platform.calls.find((c) => c.kind === 'take' && c.jobId === id);

/** Jobs `<p>1` (running, due at once) and `<p>2` (taken ahead and held), on a new worker. */
async function oneRunningOneHeld(p: string): Promise<{ g: ReturnType<typeof gatedHandler>; w: MemoryWorker }> {
  const g = gatedHandler((_id, ctx) => ctx.endsIn!(10));
  const w = setup(g.handler);
  w.platform.enqueue({ id: `${p}1`, input: {} }, { id: `${p}2`, input: {} });
  await until(() => takeOf(w, `${p}2`), `${p}2 taken and held`);
  return { g, w };
}

/**
 * After a held job was dropped: releases the running job, which is posted; the worker drains and exits 0; nothing
 * but its job-take was ever sent for the dropped job.
 */
async function runningPostedDroppedNot(w: MemoryWorker, release: () => void, running: string, dropped: string): Promise<void> {
  release();
  await w.platform.waitForResult(running);
  w.worker.stop('SIGTERM');
  expect(await w.worker.done).toBe(0);
  expect(w.platform.calls.filter((c) => c.jobId === dropped && c.kind !== 'take')).toEqual([]);
}

describe('take-ahead (HandlerContext.endsIn)', () => {
  it('a job due within the take-ahead time: the next job is taken (job_in_progress=1) and held, listed in the heartbeat, started when the slot frees', async () => {
    const g = gatedHandler((id, ctx) => ctx.endsIn!(id === 'a1' ? 50 : 60_000));
    const w = setup(g.handler);
    w.platform.enqueue({ id: 'a1', input: {} }, { id: 'a2', input: {} });
    await until(() => takeOf(w, 'a2'), 'a2 taken while a1 runs');
    expect(takeOf(w, 'a2')).toMatchObject({ count: 1, jobInProgress: true });
    expect(g.started.has('a2')).toBe(false);
    await until(() => w.platform.heartbeat.held.at(-1)?.length === 2, 'a1 and a2 in the heartbeat');
    expect(w.platform.heartbeat.held.at(-1)).toEqual(['a1', 'a2']);
    g.release('a1');
    await until(() => g.started.has('a2'), 'a2 to start once a1 returned');
    expect(g.started.get('a2')!).toBeGreaterThanOrEqual(g.returned.get('a1')!);
    g.release('a2');
    expect((await w.platform.waitForResult('a2')).body).toEqual({ output: { done: 'a2' } });
    expect((await w.platform.waitForResult('a1')).body).toEqual({ output: { done: 'a1' } });
  });

  it('a job due later takes nothing until its estimate comes within the take-ahead time', async () => {
    let update!: (ms: number) => void;
    let updatedAt = 0;
    const g = gatedHandler((id, ctx) => {
      if (id !== 'b1') return;
      ctx.endsIn!(60_000);
      update = (ms) => {
        updatedAt = performance.now();
        ctx.endsIn!(ms);
      };
    });
    const w = setup(g.handler, { takeAheadMs: 200 });
    w.platform.enqueue({ id: 'b1', input: {} }, { id: 'b2', input: {} });
    await until(() => update !== undefined, 'b1 to run');
    // Due in 400 ms: taken by the loop's timer 200 ms from now (no further estimate comes).
    update(400);
    await until(() => takeOf(w, 'b2'), 'b2 taken once b1 is due');
    expect(takeOf(w, 'b2')!.at).toBeGreaterThanOrEqual(updatedAt);
    expect(g.returned.has('b1')).toBe(false);
  });

  it('off by default (takeAheadMs 0): the context has no endsIn (nothing to poll for), the next job-take waits for the handler', async () => {
    let endsIn: unknown = 'not seen';
    const g = gatedHandler((_id, ctx) => void (endsIn = ctx.endsIn));
    const w = setup(g.handler, { takeAheadMs: 0 });
    w.platform.enqueue({ id: 'c1', input: {} }, { id: 'c2', input: {} });
    await until(() => g.started.has('c1'), 'c1 to run');
    g.release('c1');
    await until(() => takeOf(w, 'c2'), 'c2 taken after c1');
    expect(takeOf(w, 'c2')!.at).toBeGreaterThanOrEqual(g.returned.get('c1')!);
    expect(endsIn).toBeUndefined();
  });

  it('a job-stop of a held job drops it: nothing posted, never started; the running job is posted', async () => {
    const { g, w } = await oneRunningOneHeld('d');
    w.platform.stopJob('d2');
    await until(() => w.worker.stats.stopped === 1, 'd2 to be dropped');
    expect(w.platform.heartbeat.held.at(-1)).toEqual(['d1']);
    expect(w.lines.some((l) => l.message === 'Job stopped.' && l.requestId === 'd2')).toBe(true);
    await runningPostedDroppedNot(w, () => g.release('d1'), 'd1', 'd2');
    expect(g.started.has('d2')).toBe(false);
  });

  it('a drain with a held job: the running job and then the held one run and are posted, no further take, exit 0', async () => {
    const { g, w } = await oneRunningOneHeld('e');
    w.worker.stop('SIGTERM');
    g.release('e1');
    await until(() => g.started.has('e2'), 'e2 to start after e1');
    g.release('e2');
    expect(await w.worker.done).toBe(0);
    expect(w.platform.results().map((c) => c.jobId).sort()).toEqual(['e1', 'e2']);
    const lastTake = Math.max(...w.platform.calls.filter((c) => c.kind === 'take').map((c) => c.at));
    expect(lastTake).toBeLessThan(g.started.get('e2')!);
  });
});

/**
 * A handler that checks first (records `checked`), then awaits `ctx.slot()` (records `slotted`) and runs until
 * released. Jobs whose id ends in `x` are refused at their checks (return `{error}` without a slot).
 */
function checkingHandler() {
  const g = gatedHandler();
  const checked = new Map<string, number>();
  const slotted = new Map<string, number>();
  const handler: Handler = async (job, ctx) => {
    checked.set(job.id, performance.now());
    if (job.id.endsWith('x')) return { error: `refused ${job.id}` };
    ctx.endsIn!(10);
    await ctx.slot!();
    slotted.set(job.id, performance.now());
    return g.handler(job, ctx);
  };
  return { ...g, handler, checked, slotted };
}

describe('take-ahead with checksWhileHeld (HandlerContext.slot)', () => {
  it("a held job's checks run at once; its backend work waits for the slot, which frees when the running job returns", async () => {
    const h = checkingHandler();
    const w = setup(h.handler, { checksWhileHeld: true });
    w.platform.enqueue({ id: 'f1', input: {} }, { id: 'f2', input: {} });
    await until(() => h.checked.has('f2'), 'f2 checked while f1 runs');
    expect(h.slotted.has('f2')).toBe(false);
    await until(() => w.platform.heartbeat.held.at(-1)?.length === 2, 'f1 and f2 in the heartbeat');
    h.release('f1');
    await until(() => h.slotted.has('f2'), 'f2 to get the slot once f1 returned');
    expect(h.slotted.get('f2')!).toBeGreaterThanOrEqual(h.returned.get('f1')!);
    h.release('f2');
    expect((await w.platform.waitForResult('f2')).body).toEqual({ output: { done: 'f2' } });
  });

  it("slotDone: a held job gets the slot when the running job is done with the backend, before its handler returns", async () => {
    const h = checkingHandler();
    const shaping = new Map<string, () => void>();
    const handler: Handler = async (job, ctx) => {
      const out = await h.handler(job, ctx);
      ctx.slotDone!();
      // The output is shaped after the backend is free: the held job must not wait for this.
      await new Promise<void>((r) => shaping.set(job.id, r));
      return out;
    };
    const w = setup(handler, { checksWhileHeld: true });
    w.platform.enqueue({ id: 'm1', input: {} }, { id: 'm2', input: {} });
    await until(() => h.checked.has('m2'), 'm2 checked while m1 runs');
    h.release('m1');
    await until(() => h.slotted.has('m2'), 'm2 to get the slot while m1 shapes its output');
    expect(w.platform.results()).toEqual([]);
    expect(w.platform.heartbeat.held.at(-1)).toEqual(['m1', 'm2']);
    shaping.get('m1')!();
    expect((await w.platform.waitForResult('m1')).body).toEqual({ output: { done: 'm1' } });
    h.release('m2');
    await until(() => shaping.has('m2'), 'm2 to shape its output');
    shaping.get('m2')!();
    await w.platform.waitForResult('m2');
  });

  it('a held job refused at its checks is posted FAILED without waiting for a slot; the running job goes on', async () => {
    const h = checkingHandler();
    const w = setup(h.handler, { checksWhileHeld: true });
    w.platform.enqueue({ id: 'g1', input: {} }, { id: 'g2x', input: {} }, { id: 'g3', input: {} });
    expect((await w.platform.waitForResult('g2x')).body).toEqual({ error: 'refused g2x' });
    expect(h.returned.has('g1')).toBe(false);
    // The refused job took no slot: the next job is taken ahead in its place and waits for g1's slot.
    await until(() => h.checked.has('g3'), 'g3 taken ahead and checked');
    expect(h.slotted.has('g3')).toBe(false);
    h.release('g1');
    await until(() => h.slotted.has('g3'), 'g3 to get the slot');
    h.release('g3');
    await w.platform.waitForResult('g3');
  });

  it('a job-stop of a held job ends its wait for the slot: nothing posted, no error logged, the running job is posted', async () => {
    const h = checkingHandler();
    const w = setup(h.handler, { checksWhileHeld: true });
    w.platform.enqueue({ id: 'k1', input: {} }, { id: 'k2', input: {} });
    await until(() => h.checked.has('k2'), 'k2 checked while k1 runs');
    w.platform.stopJob('k2');
    await until(() => w.worker.stats.stopped === 1, 'k2 to be dropped');
    await until(() => w.platform.heartbeat.held.at(-1)?.length === 1, 'k2 out of the heartbeat');
    expect(w.platform.heartbeat.held.at(-1)).toEqual(['k1']);
    expect(w.lines.filter((l) => l.level === 'ERROR')).toEqual([]);
    await runningPostedDroppedNot(w, () => h.release('k1'), 'k1', 'k2');
    expect(h.slotted.has('k2')).toBe(false);
  });
});
