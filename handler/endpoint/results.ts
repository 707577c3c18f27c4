/**
 * Bookkeeping of the final job-done posts the local endpoint emulator received, read by `LocalEndpoint.stats()`:
 * results recorded, duplicates (a second final post for a job whose result stands) and late posts (for a job that
 * was cancelled, timed out or expired before its result came).
 */
import type { Log } from '../log.js';
import type { Job } from './job.js';

/** The counters of {@link ResultLedger}. */
export interface ResultCounters {
  /** Final results recorded: at most one per job attempt. */
  recorded: number;
  /** Final posts for a job whose result was already recorded. */
  duplicate: number;
  /** The ids of those jobs, each once. */
  duplicateJobIds: string[];
  /** Final posts for cancelled, timed-out or expired jobs. */
  late: number;
}

/** Counts final job-done posts by what became of them. */
export class ResultLedger {
  private recordedCount = 0;
  private duplicateCount = 0;
  private lateCount = 0;
  private readonly duplicateIds = new Set<string>();

  constructor(private readonly log: Log) {}

  /** A final result was recorded. */
  recorded(): void {
    this.recordedCount++;
  }

  /** A final post came for a job that was no longer held by a worker (cancelled, timed out, expired). */
  late(): void {
    this.lateCount++;
  }

  /** A final post came for a final job: a duplicate when a worker's result was recorded for it, else late. */
  ignoredFinal(job: Job, workerId: string): void {
    if (!job.resultRecorded) {
      this.lateCount++;
      return;
    }
    this.duplicateCount++;
    this.duplicateIds.add(job.id);
    this.log.warn(`Duplicate final result posted by worker ${workerId}; the first one stands.`, job.id);
  }

  /** The counters since start (a copy). */
  counters(): ResultCounters {
    return { recorded: this.recordedCount, duplicate: this.duplicateCount, duplicateJobIds: [...this.duplicateIds], late: this.lateCount };
  }
}
