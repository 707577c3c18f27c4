/**
 * The one table that maps each error class to its RunPod outcome (ARCHITECTURE.md, "Errors"), and the one function
 * that applies it to a job. A job handler returns `{error}` for a FAILED job — plus `refresh_worker: true`, which
 * the runtime posts as `"stopPod": true` (runpod-python `rp_job.py` `run_job`) — and throws only for a bug, which the
 * runtime posts as RunPod's JSON error (runpod-python `rp_job.py`: `error_type`, `error_message`, `error_traceback`).
 */
import { A1111Error, A1111ExitedError, BucketConfigError, ImageRefusal, JobInputError, S3UploadError, type A1111ErrorKind } from './index.js';

/**
 * What a failure becomes:
 * - `refused`: FAILED with the message; the job was refused before A1111 ran it (logged as a warning);
 * - `failed`: FAILED with the message (logged as an error);
 * - `backend-down`: FAILED with the message, and `stopPod` unless another backend of the pod is ready (one dead
 *   backend of several does not replace a pod whose others work);
 * - `timeout`: FAILED with the message; `A1111Client.call` has already sent `POST /sdapi/v1/interrupt`;
 * - `bug`: rethrown, so the runtime posts RunPod's JSON error with the stack.
 */
export type Outcome = 'refused' | 'failed' | 'backend-down' | 'timeout' | 'bug';

/** One row of {@link OUTCOMES}: an error class (and, for A1111Error, a kind) and what it becomes. */
export interface OutcomeRow {
  // Error classes take different constructor arguments; only `instanceof` is used.
  readonly error: abstract new (...args: never[]) => Error;
  /** For A1111Error: the kind this row is for; absent = every kind not listed above it. */
  readonly kind?: A1111ErrorKind;
  readonly outcome: Outcome;
}

/** The table, read top to bottom: the first row whose class (and kind) matches decides. Anything else is a bug. */
export const OUTCOMES: readonly OutcomeRow[] = Object.freeze([
  // The input is refused with one line naming the field, the value and what is allowed.
  { error: JobInputError, outcome: 'refused' },
  { error: ImageRefusal, outcome: 'refused' },
  { error: BucketConfigError, outcome: 'refused' },
  // An upload that failed for good (retries are the uploader's).
  { error: S3UploadError, outcome: 'failed' },
  // The A1111 process died, or no backend answers: this pod cannot run jobs any more.
  { error: A1111ExitedError, outcome: 'backend-down' },
  { error: A1111Error, kind: 'unreachable', outcome: 'backend-down' },
  { error: A1111Error, kind: 'timeout', outcome: 'timeout' },
  // HTTP errors, answers that are not the JSON promised, a job stopped by its caller.
  { error: A1111Error, outcome: 'failed' },
]);

/** The outcome of an error by {@link OUTCOMES}; `bug` for anything the table does not list. */
export function outcomeOf(e: unknown): Outcome {
  const row = OUTCOMES.find((r) => e instanceof r.error && (r.kind === undefined || (e as A1111Error).kind === r.kind));
  return row?.outcome ?? 'bug';
}

/** The output of a FAILED job: RunPod's `error`, and `refresh_worker` for `stopPod`. */
export interface FailedOutput {
  error: string;
  refresh_worker?: true;
}

/** What {@link failedJobOutput} needs of the job and the pod. */
export interface FailureContext {
  jobId: string;
  log: { warn(message: string, jobId?: string | null): void; error(message: string, jobId?: string | null): void };
  /** True when a backend of the pod other than the failed one is ready (then `backend-down` does not stop the pod). */
  otherBackendReady(): boolean;
}

/**
 * Applies {@link OUTCOMES} to an error thrown while a job ran: logs it and returns the FAILED output.
 * @throws the error itself when it is a bug (no row of the table)
 */
export function failedJobOutput(e: unknown, ctx: FailureContext): FailedOutput {
  const outcome = outcomeOf(e);
  if (outcome === 'bug') throw e;
  const message = (e as Error).message;
  if (outcome === 'refused') {
    ctx.log.warn(`Job refused: ${message}`, ctx.jobId);
    return { error: message };
  }
  ctx.log.error(message, ctx.jobId);
  return outcome === 'backend-down' && !ctx.otherBackendReady() ? { error: message, refresh_worker: true } : { error: message };
}
