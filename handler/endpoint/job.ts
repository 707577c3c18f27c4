/**
 * One job of the local endpoint emulator: its states and fields (docs/runpod-protocol.md, "Platform (public queue
 * API) facts": job states, execution policy, retention). The store (`jobs.ts`) changes them; every other module of
 * the emulator only reads them.
 */
import { randomUUID } from 'node:crypto';
import type { RunRequest } from './request.js';

/** The states a job can be in (`RUNNING` is a console synonym of `IN_PROGRESS` and never returned). */
export type JobStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT';

const FINAL: ReadonlySet<JobStatus> = new Set<JobStatus>(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

/** True for the states client SDKs treat as final: COMPLETED, FAILED, CANCELLED, TIMED_OUT. */
export function isFinal(status: JobStatus): boolean {
  return FINAL.has(status);
}

/** One job. */
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
  /** The latest progress update's `output`, while IN_PROGRESS. */
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

/** The outcome of a job-done / job-stream post. */
export type WorkerPostOutcome = { kind: 'applied' } | { kind: 'ignored'; reason: string } | { kind: 'unknown' };

/**
 * A new IN_QUEUE job at monotonic time `t`. Ids are `<uuid>-u1` (`/run`) or `sync-<uuid>-u1` (`/runsync`), as on
 * the platform (RunPod docs serverless/endpoints/operation-reference.mdx).
 * @param retentionMs how long the job is kept once final, ms
 */
export function newJob(request: RunRequest, sync: boolean, t: number, retentionMs: number): Job {
  return {
    id: `${sync ? 'sync-' : ''}${randomUUID()}-u1`,
    sync,
    request,
    status: 'IN_QUEUE',
    submittedAt: t,
    ttlDeadline: t + request.policy.ttlMs,
    retentionMs,
    assignment: 0,
    stream: [],
    retries: 0,
    resultRecorded: false,
    deleted: false,
  };
}

/**
 * Puts a FAILED or TIMED_OUT job back to IN_QUEUE for `/retry` at monotonic time `t`: same id and input; output,
 * error, progress, stream and worker cleared; its ttl starts again.
 */
export function resetForRetry(job: Job, t: number, retentionMs: number): void {
  job.status = 'IN_QUEUE';
  job.submittedAt = t;
  job.ttlDeadline = t + job.request.policy.ttlMs;
  job.retentionMs = retentionMs;
  job.takenAt = job.finishedAt = job.retainUntil = job.workerId = undefined;
  job.output = job.error = job.progress = undefined;
  job.stream = [];
  job.resultRecorded = false;
  job.retries++;
}
