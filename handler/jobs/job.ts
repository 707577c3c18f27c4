/**
 * A job as the A1111 handler receives it, and the part of the runtime's per-job context it uses (structurally
 * the runtime's `HandlerContext`, so that jobs/ imports nothing of runpod/).
 */

/** A job as this handler reads it (docs/runpod-protocol.md, "Job JSON shape (job-take response / handler argument)"). */
export interface JobLike {
  id: string;
  input: unknown;
  /** RunPod's per-request bucket `{accessId, accessSecret, bucketName, endpointUrl}`, checked by the handler. */
  s3Config?: unknown;
}

/** The part of the runtime's per-job context this handler uses. */
export interface JobContext {
  /** Aborted when the job is stopped (job-stop, drain deadline). */
  signal: AbortSignal;
  /** Wraps serialised JSON (one buffer, or parts in order) so that the runtime posts the bytes as they are. */
  rawJson(bytes: Buffer | readonly Buffer[]): unknown;
  /** Sends a progress update (RunPod `IN_PROGRESS` output); fire-and-forget. */
  progress(output: unknown): void;
  /** Posts one stream chunk (RunPod job-stream). */
  stream(output: unknown): Promise<void>;
  /** Marks the job's result with `"stopPod": true` (RunPod's `refresh_worker`); optional in test contexts. */
  refreshWorker?(): void;
  /** Tells the runtime the job will end in about `ms` (from A1111's `eta_relative`), so it can take the next job ahead. */
  endsIn?(ms: number): void;
  /** Resolves when the job may use a backend (at once, or when a job taken ahead gets its slot); rejects when stopped first. */
  slot?(): Promise<void>;
  /** The job is done with its backend (A1111 answered): the runtime may start the next job on it. */
  slotDone?(): void;
}
