/**
 * The job store and state machine of the local endpoint emulator (docs/runpod-protocol.md, "Platform (public queue
 * API) facts", "Result reporting (job-done)", "Streaming (generator handlers)"):
 *
 * ```
 *  submit ─▶ IN_QUEUE ──take──▶ IN_PROGRESS ──job-done──▶ COMPLETED | FAILED
 *              │  ▲                 │  ├── cancel ──────▶ CANCELLED        (id sent to the worker on job-stop)
 *              │  └── retry ◀───────┼──┴── deadlines (retention.ts: executionTimeout, ttl)
 *              │   (FAILED/TIMED_OUT)
 *              ├── cancel / purge-queue ─▶ CANCELLED
 *              └── ttl ─────────────────▶ deleted (404)
 * ```
 *
 * The FIFO queue and the transitions live here; held job-takes and public waits in `waiters.ts`, the job-stop
 * channel in `stops.ts`, deadlines and retention in `retention.ts`. Times are monotonic ms.
 */
import { performance } from 'node:perf_hooks';
import type { Log } from '../log.js';
import { isFinal, newJob, resetForRetry, type Assignment, type Job, type JobStatus, type WorkerPostOutcome } from './job.js';
import { isTruthy, statusBody, webhookBody, type StatusBody } from './job-body.js';
import { HttpError, type RunRequest } from './request.js';
import { ResultLedger, type ResultCounters } from './results.js';
import { Retention } from './retention.js';
import { StopSignals, type StopWaiter } from './stops.js';
import { JobWatchers, TakeWaiters, type TakeWaiter } from './waiters.js';
import { WORKER_SEEN_WINDOW_MS, WorkerSightings, type WorkerCounts } from './workers.js';

export { isFinal, type Assignment, type Job, type JobStatus, type WorkerPostOutcome } from './job.js';
export type { StatusBody } from './job-body.js';

/** Body of `/health`. Job counters other than `inQueue`/`inProgress` count since start. */
export interface HealthBody {
  jobs: { completed: number; failed: number; inProgress: number; inQueue: number; retried: number };
  workers: WorkerCounts;
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

/** In-memory jobs and FIFO queue of one emulated endpoint, with their long-polls and deadlines. */
export class JobStore {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private readonly running = new Set<Job>();
  private readonly watchers = new JobWatchers();
  private readonly takes = new TakeWaiters();
  private readonly stops = new StopSignals();
  private readonly retention: Retention;
  private readonly workers = new WorkerSightings();
  private readonly counters = { completed: 0, failed: 0, retried: 0 };
  private readonly results: ResultLedger;
  private isClosed = false;

  constructor(private readonly o: JobStoreOptions) {
    this.results = new ResultLedger(o.log);
    this.retention = new Retention({
      tombstoneMs: Math.max(o.retentionRunMs, WORKER_SEEN_WINDOW_MS),
      log: o.log,
      actions: { finish: (job, status, t) => this.finish(job, status, t), remove: (job, why) => this.remove(job, why), stop: (w, id) => this.stops.add(w, id) },
      sweep: () => {
        const t = now();
        this.workers.sweep(t);
        return { jobs: this.jobs.values(), t };
      },
    });
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.isClosed;
  }

  // ───────────────────────────── public API side ─────────────────────────────

  /** Queues new jobs at the tail (FIFO), all at once, and then hands them to held job-takes. */
  submit(requests: readonly RunRequest[], sync: boolean): Job[] {
    const t = now();
    const jobs = requests.map((request) => newJob(request, sync, t, sync ? this.o.retentionSyncMs : this.o.retentionRunMs));
    for (const job of jobs) {
      this.jobs.set(job.id, job);
      this.queue.push(job);
      this.o.log.debug(`Job queued (${this.queue.length} in queue).`, job.id);
    }
    this.dispatch();
    return jobs;
  }

  /** The job with this id, or undefined when unknown or past its ttl / retention. */
  get(id: string): Job | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    this.retention.apply(job, now());
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
    return this.isClosed ? Promise.resolve() : this.watchers.change(job, waitMs, signal);
  }

  /** Takes the stream chunks posted since the previous call (`/stream`). */
  drainStream(job: Job): unknown[] {
    return job.stream.splice(0, job.stream.length);
  }

  /**
   * `/status?ttl=`: the job is deleted `ttlMs` after now if final, else `ttlMs` after it becomes final, unless its
   * retention is already shorter.
   */
  shortenRetention(job: Job, ttlMs: number): void {
    job.retentionMs = Math.min(job.retentionMs, ttlMs);
    if (job.retainUntil !== undefined) job.retainUntil = Math.min(job.retainUntil, now() + ttlMs);
  }

  /**
   * `/cancel`: a queued job leaves the queue; a running one is also put on its worker's job-stop list; a final job
   * is unchanged. Returns the job (undefined when unknown).
   */
  cancel(id: string): Job | undefined {
    const job = this.get(id);
    if (!job || isFinal(job.status)) return job;
    if (job.status === 'IN_QUEUE') this.removeFromQueue(job);
    else if (job.workerId !== undefined) this.stops.add(job.workerId, job.id);
    this.finish(job, 'CANCELLED', now());
    this.o.log.info('Job cancelled.', job.id);
    return job;
  }

  /**
   * `/retry`: a FAILED or TIMED_OUT job goes back to the tail of the queue with the same id and input; its output,
   * error, progress, stream and worker are cleared and its ttl starts again.
   * @throws HttpError 404 for an unknown/expired id, 400 for any other state
   */
  retry(id: string): Job {
    const job = this.get(id);
    if (!job) throw new HttpError(404, `job ${id} not found`);
    if (job.status !== 'FAILED' && job.status !== 'TIMED_OUT') {
      throw new HttpError(400, `job ${id} is ${job.status}; only FAILED or TIMED_OUT jobs can be retried`);
    }
    resetForRetry(job, now(), job.sync ? this.o.retentionSyncMs : this.o.retentionRunMs);
    this.counters.retried++;
    this.queue.push(job);
    this.o.log.info(`Job re-queued (retry ${job.retries}).`, job.id);
    this.watchers.notify(job);
    this.dispatch();
    return job;
  }

  /** `/purge-queue`: every queued job becomes CANCELLED; returns how many. Running jobs are untouched. */
  purgeQueue(): number {
    const t = now();
    const purged = this.queue.splice(0, this.queue.length);
    for (const job of purged) this.finish(job, 'CANCELLED', t);
    if (purged.length > 0) this.o.log.info(`Queue purged: ${purged.length} job(s) cancelled.`);
    return purged.length;
  }

  /**
   * `/health`. `completed`, `failed` (including TIMED_OUT) and `retried` count since start; workers are counted by
   * workers.ts (`idle`, `initializing`, `ready`, `running`, `throttled`, `unhealthy`).
   */
  health(): HealthBody {
    const busy = new Set<string>();
    for (const job of this.running) if (job.workerId !== undefined) busy.add(job.workerId);
    const { completed, failed, retried } = this.counters;
    return { jobs: { completed, failed, inProgress: this.running.size, inQueue: this.queue.length, retried }, workers: this.workers.counts(now(), busy) };
  }

  /**
   * Puts a running job's id on its worker's job-stop list without changing the job's state (the platform's own
   * stop, e.g. a scale-down). Returns false when the job is not IN_PROGRESS.
   */
  requestStop(id: string): boolean {
    const job = this.get(id);
    if (!job || job.status !== 'IN_PROGRESS' || job.workerId === undefined) return false;
    this.stops.add(job.workerId, job.id);
    return true;
  }

  // ───────────────────────────── worker API side ─────────────────────────────

  /** Records a worker-API request (for `/health`): a ping (healthy unless `unhealthy`) or any other route. */
  seen(workerId: string, via: 'ping' | 'api' = 'api', unhealthy = false): void {
    this.workers.record(workerId, now(), via, unhealthy);
  }

  /**
   * A job-take: hands out up to `w.max` queued jobs at once, FIFO, or holds the waiter up to `holdMs` for one to
   * arrive and then answers `[]`. Held waiters are served in arrival order. Returns a function that ends the hold
   * early (client gone): the waiter then gets `[]` if it had not been answered yet.
   */
  take(w: TakeWaiter, holdMs: number): () => void {
    this.seen(w.workerId);
    if (this.isClosed) {
      w.deliver([]);
      return () => undefined;
    }
    const end = this.takes.hold(w, holdMs);
    this.dispatch();
    return end;
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
      this.watchers.notify(job);
    }
    this.queue.unshift(...back);
    this.dispatch();
  }

  /**
   * A job-done post. `{"status":"IN_PROGRESS", output}` stores a progress update (docs/runpod-protocol.md,
   * "Progress updates"); any other body is the final result: a truthy `error` makes the job FAILED (keeping
   * `output` if present), else COMPLETED with `output` (null when missing). `stopPod` is ignored. The first final
   * result wins; posts for final, cancelled, timed-out or ttl-expired jobs are acknowledged and ignored, and counted
   * (see {@link resultCounters}).
   */
  workerDone(jobId: string, workerId: string, body: Record<string, unknown>): WorkerPostOutcome {
    this.seen(workerId);
    const progress = body.status === 'IN_PROGRESS';
    const found = this.lookupForWorker(jobId);
    if (found.kind !== 'job') {
      if (!progress && found.outcome.kind === 'ignored') this.results.late();
      return found.outcome;
    }
    const job = found.job;
    if (isFinal(job.status)) {
      if (!progress) this.results.ignoredFinal(job, workerId);
      return { kind: 'ignored', reason: `job is already ${job.status}` };
    }
    if (job.status !== 'IN_PROGRESS') {
      if (!progress) this.results.late();
      return { kind: 'ignored', reason: `job is ${job.status}, not held by a worker` };
    }
    if (job.workerId !== workerId) {
      this.o.log.warn(`Result posted by worker ${workerId}, but the job was handed to ${job.workerId}; accepting it.`, job.id);
    }
    if (progress) {
      job.progress = { value: 'output' in body ? body.output : null };
      this.watchers.notify(job);
      return { kind: 'applied' };
    }
    if ('output' in body) job.output = { value: body.output };
    job.resultRecorded = true;
    this.results.recorded();
    if (isTruthy(body.error)) job.error = { value: body.error };
    this.finish(job, job.error ? 'FAILED' : 'COMPLETED', now());
    return { kind: 'applied' };
  }

  /** Counters of the final job-done posts since start (results.ts). */
  resultCounters(): ResultCounters {
    return this.results.counters();
  }

  /** A job-stream post: appends the chunk for `/stream` while the job runs; ignored once it is final. */
  workerStream(jobId: string, workerId: string, chunk: unknown): WorkerPostOutcome {
    this.seen(workerId);
    const found = this.lookupForWorker(jobId);
    if (found.kind !== 'job') return found.outcome;
    const job = found.job;
    if (job.status !== 'IN_PROGRESS') return { kind: 'ignored', reason: `job is ${job.status}` };
    job.stream.push(chunk);
    this.watchers.notify(job);
    return { kind: 'applied' };
  }

  /**
   * A job-stop poll: answers at once with the ids this worker must stop (each id is delivered once), else holds up
   * to `holdMs` for one and then answers `[]`. Returns a function that ends the hold early.
   */
  takeStops(w: StopWaiter, holdMs: number): () => void {
    this.seen(w.workerId);
    return this.stops.poll(w, holdMs);
  }

  /** Puts stop ids back whose job-stop answer never reached the worker. */
  restoreStops(workerId: string, ids: readonly string[]): void {
    this.stops.restore(workerId, ids);
  }

  /** Answers every held long-poll (job-take and job-stop with nothing, public waits at once) and stops the timer. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.retention.close();
    this.takes.close();
    this.stops.close();
    this.watchers.close();
  }

  // ───────────────────────────── internals ─────────────────────────────

  private lookupForWorker(jobId: string): { kind: 'job'; job: Job } | { kind: 'none'; outcome: WorkerPostOutcome } {
    const job = this.get(jobId);
    if (job) return { kind: 'job', job };
    if (this.retention.deletedWhileRunning(jobId)) return { kind: 'none', outcome: { kind: 'ignored', reason: 'job was deleted when its ttl ran out' } };
    return { kind: 'none', outcome: { kind: 'unknown' } };
  }

  /** Hands queued jobs to held job-takes, oldest waiter first. */
  private dispatch(): void {
    this.takes.serve(
      () => this.queue.length > 0,
      (w) => this.assign(w),
    );
  }

  /** Takes up to `w.max` live jobs off the head of the queue and marks them IN_PROGRESS for `w`'s worker. */
  private assign(w: TakeWaiter): Assignment[] {
    const t = now();
    const out: Assignment[] = [];
    while (out.length < Math.max(1, w.max) && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.retention.apply(job, t);
      if (job.deleted || job.status !== 'IN_QUEUE') continue;
      job.status = 'IN_PROGRESS';
      job.workerId = w.workerId;
      job.takenAt = t;
      job.assignment++;
      this.running.add(job);
      // A stop still pending for this id targets an earlier attempt; the worker cannot tell them apart.
      this.stops.drop(w.workerId, job.id);
      out.push({ job, assignment: job.assignment });
      this.o.log.debug(`Job handed to worker ${w.workerId}.`, job.id);
      this.watchers.notify(job);
    }
    return out;
  }

  private removeFromQueue(job: Job): void {
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1);
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
    this.watchers.notify(job);
    try {
      this.o.onFinal?.(job);
    } catch (e) {
      this.o.log.error(`onFinal failed: ${(e as Error).message}`, job.id);
    }
  }

  private remove(job: Job, why: string): void {
    job.deleted = true;
    this.jobs.delete(job.id);
    this.running.delete(job);
    this.removeFromQueue(job);
    this.o.log.debug(`Job deleted (${why}).`, job.id);
    this.watchers.notify(job);
  }
}
