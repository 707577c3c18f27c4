/** The counters of one worker's life, and the one place a lost result is counted and logged. */
import type { Log } from '../../log.js';

/** Counters of one worker's life (read by tests, benches and the shutdown log). */
export interface WorkerStats {
  jobsTaken: number;
  /** Results posted without `error`. */
  completed: number;
  /** Results posted with an `error`. */
  failed: number;
  /** Results the platform never acknowledged, nor their FAILED fallback (each one logged with its job id). */
  resultsLost: number;
  /** Results job-done refused with a 4xx and replaced by a FAILED fallback that was acknowledged (counted in `failed`). */
  resultsRefused: number;
  /** Malformed jobs of job-take-batch answers (not an object, no id or no input): failed alone or skipped. */
  malformedJobs: number;
  /** Job-take answers that were errors (non-2xx other than 204/400/429, bad bodies, transport errors). */
  takeErrors: number;
  /** Jobs stopped through the job-stop channel (cancelled or timed out on the platform): nothing posted for them. */
  stopped: number;
}

/** Counters at zero. */
export function newStats(): WorkerStats {
  return { jobsTaken: 0, completed: 0, failed: 0, resultsLost: 0, resultsRefused: 0, malformedJobs: 0, takeErrors: 0, stopped: 0 };
}

/** Counts and logs a result that never reached the platform. */
export function lost(stats: WorkerStats, log: Log, jobId: string, why: string | undefined): void {
  stats.resultsLost++;
  log.error(`The result of job ${jobId} is lost: ${why ?? 'not acknowledged'}.`, jobId);
}
