/**
 * The long-polls of the local endpoint emulator that wait for a job: held job-takes (answered with the next
 * job(s), or with none when the hold runs out; docs/runpod-protocol.md, "Job acquisition (job-take)") and the
 * public API's waits for a job's next change (`/runsync`, `/status-sync`, `/stream`). Times are monotonic ms.
 */
import { performance } from 'node:perf_hooks';
import type { Assignment, Job } from './job.js';

const now = (): number => performance.now();

/** A held job-take: answered once, with up to `max` jobs, or with none when the hold ends. */
export interface TakeWaiter {
  workerId: string;
  /** Batch size: most jobs to hand out at once (1 for the single job-take). */
  max: number;
  /** False once the client went away; such a waiter gets no job. */
  alive(): boolean;
  /** Called exactly once: the jobs assigned (already IN_PROGRESS), or `[]` (hold ran out, client gone, closing). */
  deliver(jobs: Assignment[]): void;
}

/** A held job-take with its timer and its deadline (monotonic ms). */
interface TakeEntry {
  w: TakeWaiter;
  timer: NodeJS.Timeout;
  deadline: number;
}

/** The held job-takes, served in arrival order. */
export class TakeWaiters {
  private readonly held: TakeEntry[] = [];

  /** True when at least one job-take is held. */
  get waiting(): boolean {
    return this.held.length > 0;
  }

  /**
   * Holds `w` up to `holdMs`, then answers it `[]`. Returns a function that ends the hold early (client gone): the
   * waiter then gets `[]` if it had not been answered yet.
   */
  hold(w: TakeWaiter, holdMs: number): () => void {
    const entry: TakeEntry = { w, deadline: now() + Math.max(0, holdMs), timer: setTimeout(() => this.end(entry), Math.max(0, holdMs)) };
    this.held.push(entry);
    return () => this.end(entry);
  }

  /**
   * Serves held job-takes, oldest first, while `hasJobs()`: `assign(w)` takes up to `w.max` jobs for a waiter. A
   * waiter whose client is gone gets `[]`. When `assign` finds nothing (every queued job had expired), that waiter
   * keeps holding for the rest of its time.
   */
  serve(hasJobs: () => boolean, assign: (w: TakeWaiter) => Assignment[]): void {
    while (hasJobs() && this.held.length > 0) {
      const entry = this.held.shift()!;
      clearTimeout(entry.timer);
      if (!entry.w.alive()) {
        entry.w.deliver([]);
        continue;
      }
      const out = assign(entry.w);
      if (out.length === 0) {
        this.held.unshift(entry);
        entry.timer = setTimeout(() => this.end(entry), Math.max(0, entry.deadline - now()));
        break;
      }
      entry.w.deliver(out);
    }
  }

  /** Answers every held job-take with `[]`. */
  close(): void {
    for (const entry of this.held.splice(0)) {
      clearTimeout(entry.timer);
      entry.w.deliver([]);
    }
  }

  private end(entry: TakeEntry): void {
    const i = this.held.indexOf(entry);
    if (i < 0) return;
    this.held.splice(i, 1);
    clearTimeout(entry.timer);
    entry.w.deliver([]);
  }
}

/** Waits of the public API for a job's next change (state, progress, stream chunk, deletion). */
export class JobWatchers {
  private readonly listeners = new Map<Job, Set<() => void>>();

  /**
   * Resolves at the job's next {@link notify}, after `waitMs`, when `signal` aborts or at {@link close}, whichever
   * is first. Never rejects.
   */
  change(job: Job, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (job.deleted || signal?.aborted) return Promise.resolve();
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

  /** Wakes every wait on `job`. */
  notify(job: Job): void {
    const set = this.listeners.get(job);
    if (!set) return;
    for (const fn of [...set]) fn();
  }

  /** Wakes every wait. */
  close(): void {
    for (const set of [...this.listeners.values()]) for (const fn of [...set]) fn();
  }
}
