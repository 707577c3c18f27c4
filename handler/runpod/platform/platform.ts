/**
 * What the worker loop needs from RunPod, as one interface: every platform call (job-take, job-done, job-stream,
 * job-stop, heartbeat, unhealthy report) goes through a {@link Platform}. The loop receives one and knows no wire:
 * `http-platform.ts` speaks RunPod's HTTP protocol; tests give it an in-memory one.
 */
import type { Job } from '../types.js';
import type { UnhealthyCheck, UnhealthyOutcome } from './unhealthy.js';

/**
 * A job of a job-take-batch answer that cannot be run: not an object, or without a non-empty string `id` or an
 * `input` key. runpod-python queues the batch's earlier jobs and drops the rest with a debug log
 * (`rp_job.get_job` → `Job(**element)` raising `TypeError`); this worker fails such a job alone and runs the others.
 */
export interface MalformedJob {
  /** The element's `id` when it is a non-empty string (the job is then posted FAILED with {@link reason}). */
  id?: string;
  /** Why it was refused, e.g. `job 3 of the job-take-batch answer has no "input"`. */
  reason: string;
}

/** What one job-take answer amounts to. */
export type TakeOutcome =
  | { kind: 'jobs'; jobs: Job[]; malformed: MalformedJob[] }
  | { kind: 'empty' }
  | { kind: 'error'; message: string }
  | { kind: 'throttled' };

/** What one job-stop poll amounts to. */
export type StopPoll = { kind: 'ids'; ids: string[] } | { kind: 'empty' } | { kind: 'throttled' } | { kind: 'error'; message: string };

/** Outcome of a result post (job-done, job-stream). */
export interface PostOutcome {
  ok: boolean;
  attempts: number;
  /** Last error message when not ok. */
  error?: string;
  /** When not ok: the last HTTP status, or null for a transport error (no answer). */
  status?: number | null;
}

/** A running heartbeat: told which job ids the worker holds (sent with each ping), stopped at the end. */
export interface HeartbeatHandle {
  setJobs(ids: readonly string[]): void;
  stop(): Promise<void>;
}

/** RunPod as the worker loop sees it. Implementations never throw from these methods (failures are outcomes). */
export interface Platform {
  /**
   * One job-take long-poll for up to `count` jobs (job-take-batch when `count` > 1).
   * @param jobInProgress whether the worker holds a job now (`job_in_progress=1`)
   * @param signal aborts the poll (the outcome is then `empty`)
   */
  take(count: number, jobInProgress: boolean, signal: AbortSignal): Promise<TakeOutcome>;
  /**
   * Posts a job's final result body (UTF-8 JSON, in chunks sent in order) to job-done, retried as the platform's
   * rules allow. `isStream`: the job streamed before (its final post says so).
   * @param what names the post in logs (default `job result`)
   */
  done(jobId: string, body: readonly Buffer[], isStream: boolean, what?: string): Promise<PostOutcome>;
  /** Posts a progress update (`{"status":"IN_PROGRESS",…}`) to job-done; best effort, few retries. */
  progress(jobId: string, body: Buffer): Promise<PostOutcome>;
  /** Posts one stream chunk (`{"output":…}`) to job-stream. */
  stream(jobId: string, body: Buffer): Promise<PostOutcome>;
  /** False when this platform has no job-stop channel (then {@link stopSignals} is never called). */
  readonly hasStopChannel: boolean;
  /** One job-stop long-poll: the ids of jobs the platform wants stopped (cancelled or timed out). */
  stopSignals(signal: AbortSignal): Promise<StopPoll>;
  /** Starts the heartbeat, or returns null when it cannot run here (the reason is logged). */
  startHeartbeat(): HeartbeatHandle | null;
  /** Sends the unhealthy report before a fatal exit; best effort, bounded in time, never throws. */
  reportUnhealthy(check: UnhealthyCheck, reason: string): Promise<UnhealthyOutcome>;
}
