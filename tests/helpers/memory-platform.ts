/**
 * An in-memory {@link Platform} for tests of the worker loop and its states (`startWorker`): jobs are queued here,
 * results land here, and posts can be made to fail — no network. The wire itself (`createHttpPlatform`) is tested
 * alone against a loopback server (tests/integration/runpod-platform.test.ts).
 */
import { Writable } from 'node:stream';
import { createLogger, type Log } from '../../handler/log.js';
import {
  startWorker,
  type Handler,
  type Job,
  type Platform,
  type PostOutcome,
  type StartWorkerOptions,
  type StateChange,
  type StopPoll,
  type TakeOutcome,
  type UnhealthyCheck,
  type WorkerHandle,
} from '../../handler/runpod/index.js';

/** One call the worker made. */
export interface MemoryCall {
  kind: 'take' | 'done' | 'progress' | 'stream' | 'stop';
  /** Epoch-relative ms (`performance.now()`). */
  at: number;
  jobId?: string;
  /** job-take: how many jobs were asked for, and whether one was held (`job_in_progress`). */
  count?: number;
  jobInProgress?: boolean;
  /** Posts: the body parsed as JSON, and whether the platform acknowledged it. */
  body?: unknown;
  ok?: boolean;
  /** job-done: the `isStream` flag, and the post's name when not the job result. */
  isStream?: boolean;
  what?: string;
  /** job-take: what was answered. */
  outcome?: TakeOutcome['kind'];
}

/** The in-memory platform and its controls. */
export interface MemoryPlatform extends Platform {
  calls: MemoryCall[];
  /** Queues jobs for the next job-takes. */
  enqueue(...jobs: Job[]): void;
  /** The next job-take answers this, whatever is queued (e.g. `{kind: 'error', …}`). */
  answerNextTake(outcome: TakeOutcome): void;
  /** The next `count` job-done posts (progress included) fail with this status (null: no answer). */
  failDone(count: number, status: number | null): void;
  /**
   * The final job-done post of `jobId` (not its progress posts) is not answered (nor recorded) until the returned
   * function is called: a slow platform, or a result post still in flight.
   */
  holdDone(jobId: string): () => void;
  /** Names a job on the next job-stop poll. */
  stopJob(jobId: string): void;
  /** Acknowledged final results (job-done posts that are not progress), in order. */
  results(): MemoryCall[];
  /** Resolves with the acknowledged final result of a job. */
  waitForResult(jobId: string, timeoutMs?: number): Promise<MemoryCall>;
  /** job-takes waiting for a job now. */
  takesWaiting(): number;
  /** Every job-id list the heartbeat was told, in order; null while no heartbeat runs. */
  heartbeat: { started: number; stopped: number; held: string[][] };
  /** Unhealthy reports sent. */
  unhealthy: Array<{ check: UnhealthyCheck; reason: string }>;
}

/** Creates an in-memory platform. `hasStopChannel` default true. */
export function memoryPlatform(opts: { hasStopChannel?: boolean } = {}): MemoryPlatform {
  const calls: MemoryCall[] = [];
  const queue: Job[] = [];
  const answers: TakeOutcome[] = [];
  const doneFaults: Array<number | null> = [];
  const toStop: string[] = [];
  const doneGates = new Map<string, Promise<void>>();
  let wakeTakes: Array<() => void> = [];
  let wakeStops: Array<() => void> = [];
  let waiting = 0;
  const resultWaiters: Array<() => void> = [];
  const heartbeat = { started: 0, stopped: 0, held: [] as string[][] };
  const unhealthy: Array<{ check: UnhealthyCheck; reason: string }> = [];

  /** Resolves on `wake` or when `signal` aborts. */
  const until = (list: 'takes' | 'stops', signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      if (list === 'takes') wakeTakes.push(done);
      else wakeStops.push(done);
      if (signal.aborted) done();
    });
  const wake = (list: 'takes' | 'stops'): void => {
    const fns = list === 'takes' ? wakeTakes : wakeStops;
    if (list === 'takes') wakeTakes = [];
    else wakeStops = [];
    for (const f of fns) f();
  };

  const post = (kind: 'done' | 'progress' | 'stream', jobId: string, body: Buffer, extra: Partial<MemoryCall> = {}): PostOutcome => {
    const status = kind === 'stream' ? undefined : doneFaults.shift();
    const ok = status === undefined;
    calls.push({ kind, at: performance.now(), jobId, body: JSON.parse(body.toString('utf8')), ok, ...extra });
    for (const w of resultWaiters.splice(0)) w();
    if (ok) return { ok: true, attempts: 1 };
    return { ok: false, attempts: 1, error: status === null ? 'no answer' : `HTTP ${status}`, status };
  };

  const results = (): MemoryCall[] => calls.filter((c) => c.kind === 'done' && c.ok);

  return {
    calls,
    heartbeat,
    unhealthy,
    enqueue(...jobs) {
      queue.push(...jobs);
      wake('takes');
    },
    answerNextTake(outcome) {
      answers.push(outcome);
      wake('takes');
    },
    failDone(count, status) {
      for (let i = 0; i < count; i++) doneFaults.push(status);
    },
    holdDone(jobId) {
      let release!: () => void;
      doneGates.set(jobId, new Promise<void>((r) => (release = r)));
      return release;
    },
    stopJob(jobId) {
      toStop.push(jobId);
      wake('stops');
    },
    results,
    waitForResult(jobId, timeoutMs = 10_000) {
      const deadline = performance.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = results().find((c) => c.jobId === jobId);
          if (found) resolve(found);
          else if (performance.now() > deadline) reject(new Error(`no result for job ${jobId} within ${timeoutMs} ms`));
          else resultWaiters.push(check);
        };
        check();
        setTimeout(check, timeoutMs + 1).unref();
      });
    },
    takesWaiting: () => waiting,

    async take(count, jobInProgress, signal) {
      if (answers.length === 0 && queue.length === 0) {
        waiting++;
        await until('takes', signal);
        waiting--;
      }
      let outcome: TakeOutcome;
      if (signal.aborted && answers.length === 0 && queue.length === 0) outcome = { kind: 'empty' };
      else outcome = answers.shift() ?? { kind: 'jobs', jobs: queue.splice(0, count), malformed: [] };
      const ids = outcome.kind === 'jobs' ? outcome.jobs.map((j) => j.id).join(',') : undefined;
      calls.push({ kind: 'take', at: performance.now(), count, jobInProgress, outcome: outcome.kind, ...(ids ? { jobId: ids } : {}) });
      return outcome;
    },
    async done(jobId, body, isStream, what) {
      const gate = doneGates.get(jobId);
      doneGates.delete(jobId);
      await gate;
      return post('done', jobId, Buffer.concat(body), { isStream, ...(what ? { what } : {}) });
    },
    progress: async (jobId, body) => post('progress', jobId, body),
    stream: async (jobId, body) => post('stream', jobId, body),
    hasStopChannel: opts.hasStopChannel ?? true,
    async stopSignals(signal): Promise<StopPoll> {
      if (toStop.length === 0) await until('stops', signal);
      const ids = toStop.splice(0);
      calls.push({ kind: 'stop', at: performance.now() });
      return ids.length > 0 ? { kind: 'ids', ids } : { kind: 'empty' };
    },
    startHeartbeat() {
      heartbeat.started++;
      return {
        setJobs: (ids) => void heartbeat.held.push([...ids]),
        stop: async () => void heartbeat.stopped++,
      };
    },
    async reportUnhealthy(check, reason) {
      unhealthy.push({ check, reason });
      return { sent: true, status: 200 };
    },
  };
}

/** One JSON log line as the runtime wrote it. */
export type LogLine = { level: string; requestId: string | null; message: string };

/** A DEBUG logger whose lines are kept for assertions. */
export function memoryLog(): { log: Log; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { log: createLogger({ level: 'DEBUG', json: true, out }), lines };
}

/** A worker started on an in-memory platform, with its log lines and state changes. */
export interface MemoryWorker {
  platform: MemoryPlatform;
  worker: WorkerHandle;
  lines: LogLine[];
  changes: StateChange[];
}

/**
 * Starts the runtime (`startWorker`) with `handler` on `platform`: no signals, a 300 ms pause after a 429, the
 * identity `host1`/`w42`/`0.1.0`; `opts` overrides any of these. The caller stops it (`worker.stop`, `worker.done`).
 */
export function startMemoryWorker(handler: Handler, opts: Partial<StartWorkerOptions> = {}, platform = memoryPlatform()): MemoryWorker {
  const { log, lines } = memoryLog();
  const changes: StateChange[] = [];
  const worker = startWorker({
    platform,
    handler,
    log,
    identity: { hostname: 'host1', workerId: 'w42', version: '0.1.0' },
    signals: [],
    throttlePauseMs: 300,
    onState: (c) => changes.push(c),
    ...opts,
  });
  return { platform, worker, lines, changes };
}
