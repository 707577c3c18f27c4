/**
 * The job store and state machine of the local endpoint emulator (protocol spec §17 "Job states", "Execution
 * policy", retention; §4 job-take, §5/§7 job-done, §6 job-stream, §8 job-stop).
 *
 * ```
 *  submit ─▶ IN_QUEUE ──take──▶ IN_PROGRESS ──job-done──▶ COMPLETED | FAILED
 *              │  ▲                 │  ├── cancel ──────▶ CANCELLED        (id sent to the worker on job-stop)
 *              │  └── retry ◀───────┼──┼── executionTimeout ▶ TIMED_OUT    (id sent to the worker on job-stop)
 *              │   (FAILED/TIMED_OUT)  └── ttl ─────────▶ deleted (404)    (id sent to the worker on job-stop)
 *              ├── cancel / purge-queue ─▶ CANCELLED
 *              └── ttl ─────────────────▶ deleted (404)
 *  final state ── retention (30 min /run, 60 s /runsync, or ?ttl=) ──▶ deleted (404)
 * ```
 *
 * Times are read from a monotonic clock in ms. One 100 ms interval timer (unref'd) applies the deadlines;
 * reads also apply them, so a lookup never returns a job past its deadline.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Log } from '../log.js';
import { isTruthy, statusBody, webhookBody, type StatusBody } from './job-body.js';
import { HttpError, type RunRequest } from './request.js';
import { WORKER_SEEN_WINDOW_MS, WorkerSightings, type WorkerCounts } from './workers.js';

export { isTruthy, type StatusBody } from './job-body.js';
export { WORKER_SEEN_WINDOW_MS };

/** The states a job can be in (spec §17; `RUNNING` is a console synonym of `IN_PROGRESS` and never returned). */
export type JobStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT';

const FINAL: ReadonlySet<JobStatus> = new Set<JobStatus>(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

/** True for the states client SDKs treat as final: COMPLETED, FAILED, CANCELLED, TIMED_OUT (spec §17). */
export function isFinal(status: JobStatus): boolean {
  return FINAL.has(status);
}

/** How often deadlines (executionTimeout, ttl, retention) are checked, ms. */
export const SWEEP_INTERVAL_MS = 100;

/** One job. Fields are maintained by {@link JobStore}; other modules only read them. */
export interface Job {
  readonly id: string;
  /** Submitted through `/runsync` (shorter retention). */
  readonly sync: boolean;
  readonly request: RunRequest;
  status: JobStatus;
  /** Monotonic ms of submission (or of the last retry). */
  submittedAt: number;
  /** Monotonic ms at which the ttl runs out while the job is not final. */
  ttlDeadline: number;
  /** Monotonic ms of the job-take that handed the job out (while or after IN_PROGRESS). */
  takenAt?: number;
  /** Monotonic ms at which the job became final. */
  finishedAt?: number;
  /** Monotonic ms after which a final job is deleted. */
  retainUntil?: number;
  /** Retention after the job becomes final, ms (shortened by `/status?ttl=`). */
  retentionMs: number;
  /** The worker that took it (kept after the job is final). */
  workerId?: string;
  /** Counts hand-outs, so a hand-out that failed to reach its worker can be told from a later one. */
  assignment: number;
  /** The worker's `output` (final), when its body had one. */
  output?: { value: unknown };
  /** The worker's truthy `error` (FAILED). */
  error?: { value: unknown };
  /** The latest progress update's `output` (spec §7), while IN_PROGRESS. */
  progress?: { value: unknown };
  /** Stream chunks posted and not yet read by `/stream`. */
  stream: unknown[];
  /** How often `/retry` re-queued it. */
  retries: number;
  /** True once a worker's final result was recorded for the current attempt (cleared by `/retry`). */
  resultRecorded: boolean;
  /** Set once the job is gone (ttl, retention); lookups no longer find it. */
  deleted: boolean;
}

/** A job handed to a worker by one job-take. */
export interface Assignment {
  job: Job;
  /** The job's {@link Job.assignment} at hand-out. */
  assignment: number;
}

/** A held job-take (spec §4): answered once, with up to `max` jobs, or with none when the hold ends. */
export interface TakeWaiter {
  workerId: string;
  /** Batch size: most jobs to hand out at once (1 for the legacy job-take). */
  max: number;
  /** False once the client went away; such a waiter gets no job. */
  alive(): boolean;
  /** Called exactly once: the jobs assigned (already IN_PROGRESS), or `[]` (hold ran out, client gone, closing). */
  deliver(jobs: Assignment[]): void;
}

/** A held job-stop poll (spec §8): answered once with the ids to stop, or `[]`. */
export interface StopWaiter {
  workerId: string;
  alive(): boolean;
  deliver(ids: string[]): void;
}

/** The outcome of a job-done / job-stream post. */
export type WorkerPostOutcome = { kind: 'applied' } | { kind: 'ignored'; reason: string } | { kind: 'unknown' };

/** Body of `/health` (spec §17). Job counters other than `inQueue`/`inProgress` count since start. */
export interface HealthBody {
  jobs: { completed: number; failed: number; inProgress: number; inQueue: number; retried: number };
  workers: WorkerCounts;
}

/** A held job-take with its timer and its deadline (monotonic ms). */
interface TakeEntry {
  w: TakeWaiter;
  timer: NodeJS.Timeout;
  deadline: number;
}

/** Options of {@link JobStore}. */
export interface JobStoreOptions {
  /** Retention of a final `/run` job, ms. */
  retentionRunMs: number;
  /** Retention of a final `/runsync` job, ms. */
  retentionSyncMs: number;
  log: Log;
  /** Called once when a job becomes final (e.g. to send its webhook). Must not throw. */
  onFinal?: (job: Job) => void;
}

const now = (): number => performance.now();

/** In-memory jobs, FIFO queue, held long-polls and deadlines of one emulated endpoint. */
export class JobStore {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private readonly running = new Set<Job>();
  private readonly listeners = new Map<Job, Set<() => void>>();
  private readonly takeWaiters: TakeEntry[] = [];
  private readonly stopWaiters = new Map<string, Array<{ w: StopWaiter; timer: NodeJS.Timeout }>>();
  /** Ids each worker must be told to stop (job-stop), in order, each delivered once. */
  private readonly pendingStops = new Map<string, string[]>();
  /** Ids deleted by their ttl while a worker ran them: a late job-done is acknowledged and ignored. */
  private readonly tombstones = new Map<string, number>();
  private readonly workers = new WorkerSightings();
  private readonly sweeper: NodeJS.Timeout;
  private readonly counters = { completed: 0, failed: 0, retried: 0 };
  private readonly results = { recorded: 0, duplicate: 0, late: 0 };
  private readonly duplicateIds = new Set<string>();
  private isClosed = false;

  constructor(private readonly o: JobStoreOptions) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.isClosed;
  }

  // ───────────────────────────── public API side ─────────────────────────────

  /**
   * Queues a new job at the tail (FIFO) and hands it to a held job-take if there is one.
   * Ids are `<uuid>-u1` (`/run`) or `sync-<uuid>-u1` (`/runsync`), as on the platform (spec §2).
   */
  submit(request: RunRequest, sync: boolean): Job {
    const t = now();
    const job: Job = {
      id: `${sync ? 'sync-' : ''}${randomUUID()}-u1`,
      sync,
      request,
      status: 'IN_QUEUE',
      submittedAt: t,
      ttlDeadline: t + request.policy.ttlMs,
      retentionMs: sync ? this.o.retentionSyncMs : this.o.retentionRunMs,
      assignment: 0,
      stream: [],
      retries: 0,
      resultRecorded: false,
      deleted: false,
    };
    this.jobs.set(job.id, job);
    this.queue.push(job);
    this.o.log.debug(`Job queued (${this.queue.length} in queue).`, job.id);
    this.dispatch();
    return job;
  }

  /** The job with this id, or undefined when unknown or past its ttl / retention. */
  get(id: string): Job | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    this.applyDeadlines(job, now());
    return job.deleted ? undefined : job;
  }

  /** The `/status` body of a job (job-body.ts). */
  statusBody(job: Job): StatusBody {
    return statusBody(job, now());
  }

  /** The webhook body of a job for its `webhook` or `webhookV2` (job-body.ts). */
  webhookBody(job: Job, field: 'webhook' | 'webhookV2' = 'webhook'): Record<string, unknown> {
    return webhookBody(job, now(), field);
  }

  /**
   * Resolves at the job's next change (state, progress, stream chunk, deletion), after `waitMs`, when `signal`
   * aborts or when the store closes, whichever is first. Never rejects.
   */
  change(job: Job, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (this.isClosed || job.deleted || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.listeners.get(job);
      if (!set) this.listeners.set(job, (set = new Set()));
      const listeners = set;
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(done);
        if (listeners.size === 0 && this.listeners.get(job) === listeners) this.listeners.delete(job);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, waitMs));
      listeners.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Takes the stream chunks posted since the previous call (spec §6 `/stream`). */
  drainStream(job: Job): unknown[] {
    return job.stream.splice(0, job.stream.length);
  }

  /**
   * `/status?ttl=` (spec §17): the job is deleted `ttlMs` after now if final, else `ttlMs` after it becomes final,
   * unless its retention is already shorter.
   */
  shortenRetention(job: Job, ttlMs: number): void {
    job.retentionMs = Math.min(job.retentionMs, ttlMs);
    if (job.retainUntil !== undefined) job.retainUntil = Math.min(job.retainUntil, now() + ttlMs);
  }

  /**
   * `/cancel` (spec §17): a queued job leaves the queue; a running one is also put on its worker's job-stop list;
   * a final job is unchanged. Returns the job (undefined when unknown).
   */
  cancel(id: string): Job | undefined {
    const job = this.get(id);
    if (!job || isFinal(job.status)) return job;
    if (job.status === 'IN_QUEUE') this.removeFromQueue(job);
    else if (job.workerId !== undefined) this.addStop(job.workerId, job.id);
    this.finish(job, 'CANCELLED', now());
    this.o.log.info('Job cancelled.', job.id);
    return job;
  }

  /**
   * `/retry` (spec §17): a FAILED or TIMED_OUT job goes back to the tail of the queue with the same id and input;
   * its output, error, progress, stream and worker are cleared and its ttl starts again.
   * @throws HttpError 404 for an unknown/expired id, 400 for any other state
   */
  retry(id: string): Job {
    const job = this.get(id);
    if (!job) throw new HttpError(404, `job ${id} not found`);
    if (job.status !== 'FAILED' && job.status !== 'TIMED_OUT') {
      throw new HttpError(400, `job ${id} is ${job.status}; only FAILED or TIMED_OUT jobs can be retried`);
    }
    const t = now();
    job.status = 'IN_QUEUE';
    job.submittedAt = t;
    job.ttlDeadline = t + job.request.policy.ttlMs;
    job.retentionMs = job.sync ? this.o.retentionSyncMs : this.o.retentionRunMs;
    job.takenAt = job.finishedAt = job.retainUntil = job.workerId = undefined;
    job.output = job.error = job.progress = undefined;
    job.stream = [];
    job.resultRecorded = false;
    job.retries++;
    this.counters.retried++;
    this.queue.push(job);
    this.o.log.info(`Job re-queued (retry ${job.retries}).`, job.id);
    this.notify(job);
    this.dispatch();
    return job;
  }

  /** `/purge-queue` (spec §17): every queued job becomes CANCELLED; returns how many. Running jobs are untouched. */
  purgeQueue(): number {
    const t = now();
    const purged = this.queue.splice(0, this.queue.length);
    for (const job of purged) this.finish(job, 'CANCELLED', t);
    if (purged.length > 0) this.o.log.info(`Queue purged: ${purged.length} job(s) cancelled.`);
    return purged.length;
  }

  /**
   * `/health` (spec §17). `completed`, `failed` (including TIMED_OUT) and `retried` count since start; workers are
   * counted by workers.ts (`idle`, `initializing`, `ready`, `running`, `throttled`, `unhealthy`).
   */
  health(): HealthBody {
    const t = now();
    const busy = new Set<string>();
    for (const job of this.running) if (job.workerId !== undefined) busy.add(job.workerId);
    return {
      jobs: {
        completed: this.counters.completed,
        failed: this.counters.failed,
        inProgress: this.running.size,
        inQueue: this.queue.length,
        retried: this.counters.retried,
      },
      workers: this.workers.counts(t, busy),
    };
  }

  // ───────────────────────────── worker API side ─────────────────────────────

  /** Records a worker-API request (for `/health`): a ping (healthy unless `unhealthy`) or any other route. */
  seen(workerId: string, via: 'ping' | 'api' = 'api', unhealthy = false): void {
    this.workers.record(workerId, now(), via, unhealthy);
  }

  /**
   * A job-take (spec §4): hands out up to `w.max` queued jobs at once, FIFO, or holds the waiter up to `holdMs` for
   * one to arrive and then answers `[]`. Held waiters are served in arrival order. Returns a function that ends
   * the hold early (client gone): the waiter then gets `[]` if it had not been answered yet.
   */
  take(w: TakeWaiter, holdMs: number): () => void {
    this.seen(w.workerId);
    if (this.isClosed) {
      w.deliver([]);
      return () => undefined;
    }
    const deadline = now() + Math.max(0, holdMs);
    const entry: TakeEntry = { w, deadline, timer: setTimeout(() => this.endTake(entry), Math.max(0, holdMs)) };
    this.takeWaiters.push(entry);
    this.dispatch();
    return () => this.endTake(entry);
  }

  /**
   * Puts jobs whose job-take answer never reached the worker back at the head of the queue, in their order.
   * A job that changed since (cancelled, timed out, handed out again) is left alone.
   */
  giveBack(jobs: readonly Assignment[]): void {
    const back: Job[] = [];
    for (const { job, assignment } of jobs) {
      if (job.deleted || job.status !== 'IN_PROGRESS' || job.assignment !== assignment) continue;
      this.running.delete(job);
      job.status = 'IN_QUEUE';
      job.takenAt = job.workerId = undefined;
      job.progress = undefined;
      back.push(job);
      this.o.log.warn('Job-take answer did not reach the worker; job put back at the head of the queue.', job.id);
      this.notify(job);
    }
    this.queue.unshift(...back);
    this.dispatch();
  }

  /**
   * A job-done post (spec §5, §7). `{"status":"IN_PROGRESS", output}` stores a progress update; any other body is
   * the final result: a truthy `error` makes the job FAILED (keeping `output` if present), else COMPLETED with
   * `output` (null when missing). `stopPod` is ignored. The first final result wins; posts for final, cancelled,
   * timed-out or ttl-expired jobs are acknowledged and ignored, and counted (see {@link resultCounters}).
   */
  workerDone(jobId: string, workerId: string, body: Record<string, unknown>): WorkerPostOutcome {
    this.seen(workerId);
    const progress = body.status === 'IN_PROGRESS';
    const found = this.lookupForWorker(jobId);
    if (found.kind !== 'job') {
      if (!progress && found.outcome.kind === 'ignored') this.results.late++;
      return found.outcome;
    }
    const job = found.job;
    if (isFinal(job.status)) {
      if (!progress) {
        if (job.resultRecorded) {
          this.results.duplicate++;
          this.duplicateIds.add(job.id);
          this.o.log.warn(`Duplicate final result posted by worker ${workerId}; the first one stands.`, job.id);
        } else {
          this.results.late++;
        }
      }
      return { kind: 'ignored', reason: `job is already ${job.status}` };
    }
    if (job.status !== 'IN_PROGRESS') {
      if (!progress) this.results.late++;
      return { kind: 'ignored', reason: `job is ${job.status}, not held by a worker` };
    }
    if (job.workerId !== workerId) {
      this.o.log.warn(`Result posted by worker ${workerId}, but the job was handed to ${job.workerId}; accepting it.`, job.id);
    }
    if (progress) {
      job.progress = { value: 'output' in body ? body.output : null };
      this.notify(job);
      return { kind: 'applied' };
    }
    if ('output' in body) job.output = { value: body.output };
    job.resultRecorded = true;
    this.results.recorded++;
    if (isTruthy(body.error)) {
      job.error = { value: body.error };
      this.finish(job, 'FAILED', now());
    } else {
      this.finish(job, 'COMPLETED', now());
    }
    return { kind: 'applied' };
  }

  /**
   * Result counters since start: final results recorded (at most one per job attempt), final posts for a job
   * whose result was already recorded (duplicates, with their job ids), and final posts for cancelled, timed-out
   * or expired jobs (late).
   */
  resultCounters(): { recorded: number; duplicate: number; duplicateJobIds: string[]; late: number } {
    return { ...this.results, duplicateJobIds: [...this.duplicateIds] };
  }

  /** A job-stream post (spec §6): appends the chunk for `/stream` while the job runs; ignored once it is final. */
  workerStream(jobId: string, workerId: string, chunk: unknown): WorkerPostOutcome {
    this.seen(workerId);
    const found = this.lookupForWorker(jobId);
    if (found.kind !== 'job') return found.outcome;
    const job = found.job;
    if (job.status !== 'IN_PROGRESS') return { kind: 'ignored', reason: `job is ${job.status}` };
    job.stream.push(chunk);
    this.notify(job);
    return { kind: 'applied' };
  }

  /**
   * A job-stop poll (spec §8): answers at once with the ids this worker must stop (each id is delivered once),
   * else holds up to `holdMs` for one and then answers `[]`. Returns a function that ends the hold early.
   */
  takeStops(w: StopWaiter, holdMs: number): () => void {
    this.seen(w.workerId);
    const pending = this.pendingStops.get(w.workerId);
    if (this.isClosed || (pending && pending.length > 0)) {
      this.pendingStops.delete(w.workerId);
      w.deliver(pending ?? []);
      return () => undefined;
    }
    const list = this.stopWaiters.get(w.workerId) ?? [];
    const entry = { w, timer: setTimeout(() => this.endStop(entry), Math.max(0, holdMs)) };
    list.push(entry);
    this.stopWaiters.set(w.workerId, list);
    return () => this.endStop(entry);
  }

  /** Puts stop ids back whose job-stop answer never reached the worker. */
  restoreStops(workerId: string, ids: readonly string[]): void {
    for (const id of ids) this.addStop(workerId, id);
  }

  /** Answers every held long-poll (job-take and job-stop with nothing, public waits at once) and stops the timer. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.sweeper);
    for (const entry of this.takeWaiters.splice(0)) {
      clearTimeout(entry.timer);
      entry.w.deliver([]);
    }
    for (const list of this.stopWaiters.values()) {
      for (const entry of list) {
        clearTimeout(entry.timer);
        entry.w.deliver([]);
      }
    }
    this.stopWaiters.clear();
    for (const set of [...this.listeners.values()]) for (const fn of [...set]) fn();
  }

  // ───────────────────────────── internals ─────────────────────────────

  private lookupForWorker(jobId: string): { kind: 'job'; job: Job } | { kind: 'none'; outcome: WorkerPostOutcome } {
    const job = this.get(jobId);
    if (job) return { kind: 'job', job };
    if (this.tombstones.has(jobId)) return { kind: 'none', outcome: { kind: 'ignored', reason: 'job was deleted when its ttl ran out' } };
    return { kind: 'none', outcome: { kind: 'unknown' } };
  }

  private endTake(entry: TakeEntry): void {
    const i = this.takeWaiters.indexOf(entry);
    if (i < 0) return;
    this.takeWaiters.splice(i, 1);
    clearTimeout(entry.timer);
    entry.w.deliver([]);
  }

  private endStop(entry: { w: StopWaiter; timer: NodeJS.Timeout }): void {
    const list = this.stopWaiters.get(entry.w.workerId);
    const i = list ? list.indexOf(entry) : -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.stopWaiters.delete(entry.w.workerId);
    clearTimeout(entry.timer);
    entry.w.deliver([]);
  }

  /** Hands queued jobs to held job-takes, oldest waiter first. */
  private dispatch(): void {
    while (this.queue.length > 0 && this.takeWaiters.length > 0) {
      const entry = this.takeWaiters.shift()!;
      clearTimeout(entry.timer);
      if (!entry.w.alive()) {
        entry.w.deliver([]);
        continue;
      }
      const t = now();
      const out: Assignment[] = [];
      while (out.length < Math.max(1, entry.w.max) && this.queue.length > 0) {
        const job = this.queue.shift()!;
        this.applyDeadlines(job, t);
        if (job.deleted || job.status !== 'IN_QUEUE') continue;
        job.status = 'IN_PROGRESS';
        job.workerId = entry.w.workerId;
        job.takenAt = t;
        job.assignment++;
        this.running.add(job);
        // A stop still pending for this id targets an earlier attempt; the worker cannot tell them apart.
        this.dropStop(entry.w.workerId, job.id);
        out.push({ job, assignment: job.assignment });
        this.o.log.debug(`Job handed to worker ${entry.w.workerId}.`, job.id);
        this.notify(job);
      }
      if (out.length === 0) {
        // Everything left in the queue had expired: keep holding for the rest of this waiter's time.
        this.takeWaiters.unshift(entry);
        entry.timer = setTimeout(() => this.endTake(entry), Math.max(0, entry.deadline - now()));
        break;
      }
      entry.w.deliver(out);
    }
  }

  private removeFromQueue(job: Job): void {
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1);
  }

  private addStop(workerId: string, id: string): void {
    const list = this.pendingStops.get(workerId) ?? [];
    if (!list.includes(id)) list.push(id);
    this.pendingStops.set(workerId, list);
    const waiters = this.stopWaiters.get(workerId);
    while (waiters && waiters.length > 0) {
      const entry = waiters.shift()!;
      clearTimeout(entry.timer);
      if (!entry.w.alive()) {
        entry.w.deliver([]);
        continue;
      }
      this.pendingStops.delete(workerId);
      entry.w.deliver(list);
      break;
    }
    if (waiters && waiters.length === 0) this.stopWaiters.delete(workerId);
  }

  private dropStop(workerId: string, id: string): void {
    const list = this.pendingStops.get(workerId);
    if (!list) return;
    const i = list.indexOf(id);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.pendingStops.delete(workerId);
  }

  /** Moves a job to a final state: timestamps, retention, counters, listeners, `onFinal`. */
  private finish(job: Job, status: JobStatus, t: number): void {
    this.running.delete(job);
    job.status = status;
    job.finishedAt = t;
    job.retainUntil = t + job.retentionMs;
    job.progress = undefined;
    if (status === 'COMPLETED') this.counters.completed++;
    if (status === 'FAILED' || status === 'TIMED_OUT') this.counters.failed++;
    this.o.log.debug(`Job ${status}.`, job.id);
    this.notify(job);
    try {
      this.o.onFinal?.(job);
    } catch (e) {
      this.o.log.error(`onFinal failed: ${(e as Error).message}`, job.id);
    }
  }

  private delete(job: Job, why: string): void {
    job.deleted = true;
    this.jobs.delete(job.id);
    this.running.delete(job);
    this.removeFromQueue(job);
    this.o.log.debug(`Job deleted (${why}).`, job.id);
    this.notify(job);
  }

  /** Applies executionTimeout, ttl and retention to one job at time `t`. */
  private applyDeadlines(job: Job, t: number): void {
    if (job.deleted) return;
    if (isFinal(job.status)) {
      if (job.retainUntil !== undefined && t >= job.retainUntil) this.delete(job, 'retention ran out');
      return;
    }
    if (t >= job.ttlDeadline) {
      if (job.status === 'IN_PROGRESS' && job.workerId !== undefined) {
        this.addStop(job.workerId, job.id);
        this.tombstones.set(job.id, t + Math.max(this.o.retentionRunMs, WORKER_SEEN_WINDOW_MS));
      }
      this.o.log.info(`Job expired: its ttl of ${job.request.policy.ttlMs} ms ran out while ${job.status}.`, job.id);
      this.delete(job, 'ttl ran out');
      return;
    }
    if (job.status === 'IN_PROGRESS' && job.takenAt !== undefined && t - job.takenAt >= job.request.policy.executionTimeoutMs) {
      if (job.workerId !== undefined) this.addStop(job.workerId, job.id);
      this.o.log.info(`Job timed out: it ran longer than its executionTimeout of ${job.request.policy.executionTimeoutMs} ms.`, job.id);
      this.finish(job, 'TIMED_OUT', t);
    }
  }

  private sweep(): void {
    const t = now();
    // Deleting from a Map while iterating it is well-defined in JS: later entries are still visited.
    for (const job of this.jobs.values()) this.applyDeadlines(job, t);
    for (const [id, until] of this.tombstones) if (t >= until) this.tombstones.delete(id);
    this.workers.sweep(t);
  }

  private notify(job: Job): void {
    const set = this.listeners.get(job);
    if (!set) return;
    for (const fn of [...set]) fn();
  }
}
