/**
 * The deadlines of the local endpoint emulator's jobs (docs/runpod-protocol.md, "Platform (public queue API)
 * facts": execution policy, retention):
 *
 * ```
 *  IN_PROGRESS ── executionTimeout ──▶ TIMED_OUT           (id sent to the worker on job-stop)
 *  not final   ── ttl ───────────────▶ deleted (404)       (if running: id sent on job-stop, a late job-done ignored)
 *  final       ── retention (30 min /run, 60 s /runsync, or /status?ttl=) ──▶ deleted (404)
 * ```
 *
 * One {@link SWEEP_INTERVAL_MS} interval timer (unref'd) applies them; the store also applies them on every read,
 * so a lookup never returns a job past its deadline. Times are monotonic ms.
 */
import type { Log } from '../log.js';
import { isFinal, type Job, type JobStatus } from './job.js';

/** How often deadlines (executionTimeout, ttl, retention) are checked, ms. */
export const SWEEP_INTERVAL_MS = 100;

/** What the deadlines do to a job, provided by the store. */
export interface DeadlineActions {
  /** Moves a job to a final state at time `t`. */
  finish(job: Job, status: JobStatus, t: number): void;
  /** Forgets a job (later lookups answer 404). */
  remove(job: Job, why: string): void;
  /** Tells the worker running `jobId` to stop it (job-stop). */
  stop(workerId: string, jobId: string): void;
}

/** Options of {@link Retention}. */
export interface RetentionOptions {
  /** How long a job deleted by its ttl while running stays known, so its late job-done is acknowledged, ms. */
  tombstoneMs: number;
  log: Log;
  actions: DeadlineActions;
  /** The jobs to sweep and the time now; called by the interval timer. */
  sweep: () => { jobs: Iterable<Job>; t: number };
}

/** Applies executionTimeout, ttl and retention; remembers the ids deleted while a worker ran them. */
export class Retention {
  /** Ids deleted by their ttl while a worker ran them, with the time until which they are remembered. */
  private readonly tombstones = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: RetentionOptions) {
    this.timer = setInterval(() => {
      const { jobs, t } = this.o.sweep();
      this.sweep(jobs, t);
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** True when `id` was deleted by its ttl while a worker ran it (and is still remembered). */
  deletedWhileRunning(id: string): boolean {
    return this.tombstones.has(id);
  }

  /** Applies the deadlines to one job at time `t`. */
  apply(job: Job, t: number): void {
    if (job.deleted) return;
    const { actions, log } = this.o;
    if (isFinal(job.status)) {
      if (job.retainUntil !== undefined && t >= job.retainUntil) actions.remove(job, 'retention ran out');
      return;
    }
    if (t >= job.ttlDeadline) {
      if (job.status === 'IN_PROGRESS' && job.workerId !== undefined) {
        actions.stop(job.workerId, job.id);
        this.tombstones.set(job.id, t + this.o.tombstoneMs);
      }
      log.info(`Job expired: its ttl of ${job.request.policy.ttlMs} ms ran out while ${job.status}.`, job.id);
      actions.remove(job, 'ttl ran out');
      return;
    }
    if (job.status === 'IN_PROGRESS' && job.takenAt !== undefined && t - job.takenAt >= job.request.policy.executionTimeoutMs) {
      if (job.workerId !== undefined) actions.stop(job.workerId, job.id);
      log.info(`Job timed out: it ran longer than its executionTimeout of ${job.request.policy.executionTimeoutMs} ms.`, job.id);
      actions.finish(job, 'TIMED_OUT', t);
    }
  }

  /** Applies the deadlines to every job and forgets old tombstones. */
  sweep(jobs: Iterable<Job>, t: number): void {
    // Deleting from a Map while iterating it is well-defined in JS: later entries are still visited.
    for (const job of jobs) this.apply(job, t);
    for (const [id, until] of this.tombstones) if (t >= until) this.tombstones.delete(id);
  }

  /** Stops the interval timer. */
  close(): void {
    clearInterval(this.timer);
  }
}
