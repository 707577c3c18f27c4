/**
 * The contract between RunPod's worker runtime and a job handler (ARCHITECTURE.md, `handler/runpod/`).
 * The runtime knows nothing of A1111: it takes jobs, calls one handler per job and posts its result.
 */

/**
 * A job as the platform hands it out on job-take (docs/runpod-protocol.md, "Job JSON shape (job-take response / handler argument)").
 * `id` and `input` are required keys; any other keys (`webhook`, `s3Config`, `batchId`, …) are passed through.
 */
export interface Job {
  /** Opaque job id, e.g. `5e0ae067-…-u1` or `sync-…-u1`. */
  id: string;
  /** The caller's `input`; any JSON value (the platform allows `null`). */
  input: unknown;
  /** Optional batch id, used as a log prefix (docs/runpod-protocol.md, "Logging format (stdout)"). */
  batchId?: string;
  [key: string]: unknown;
}

/** What the runtime gives a handler for one job. */
export interface HandlerContext {
  /** Aborted when the job must stop (job-stop channel, shutdown deadline). */
  signal: AbortSignal;
  /**
   * Sends a progress update (`{"status":"IN_PROGRESS","output":…}` to the job-done URL, docs/runpod-protocol.md, "Progress updates").
   * Fire-and-forget; serialised per job and never sent after the final result (docs/runpod-protocol.md, "Quirks to decide on (faithful vs. fixed)" Q6).
   */
  progress(output: unknown): void;
  /** Posts one stream chunk (`{"output":…}` to the job-stream URL, docs/runpod-protocol.md, "Streaming (generator handlers)"); resolves when it is posted or given up. */
  stream(output: unknown): Promise<void>;
  /**
   * Wraps already-serialised JSON (UTF-8 bytes: one buffer, or parts in order) so the runtime posts it verbatim as
   * `output` without parsing, re-encoding or joining it (ARCHITECTURE.md: heavy payloads are passed through).
   * The caller guarantees that the bytes are one valid JSON value, and leaves the buffers unchanged until the job ends.
   */
  rawJson(bytes: Buffer | readonly Buffer[]): unknown;
  /**
   * Marks this job's result with `"stopPod": true`, whatever the handler returns or throws (runpod-python's
   * `refresh_worker`: per job as a handler output key, per worker as the `refresh_worker` config of
   * `runpod.serverless.start`; `rp_job.py` `run_job` / `handle_job`). Optional: runtimes without it ignore the call.
   */
  refreshWorker?(): void;
  /**
   * Tells the runtime that this job's handler will return in about `ms` (e.g. from A1111's `eta_relative`, read
   * from `/sdapi/v1/progress`); call it again as the estimate changes. Once a running job is due within the
   * runtime's take-ahead time (about one platform round trip), the runtime takes the next job and holds it until a
   * slot frees, so that the backend does not wait for the job-take. Optional: runtimes without it ignore the call.
   */
  endsIn?(ms: number): void;
  /**
   * Resolves when the job may use the backend: at once for a job started in a free slot; for a job taken ahead
   * (take-ahead) when a slot frees. Rejects with the stop reason when the job is stopped first. A handler started
   * with `checksWhileHeld` runs its checks, then awaits this before its backend work, so that a held job is checked
   * while it waits. Optional: runtimes without it start the handler only in a free slot.
   */
  slot?(): Promise<void>;
  /**
   * The handler is done with the backend (A1111 has answered); what is left is its own work (shaping the output,
   * uploads). The slot goes to a held job or the next job-take at once. Idempotent; the job stays held (heartbeat)
   * until its result is posted. Optional: runtimes without it free the slot when the handler returns.
   */
  slotDone?(): void;
}

/**
 * A job handler. Its return value becomes the result body by the rules of docs/runpod-protocol.md, "Non-generator handler → body"
 * (`error` / `refresh_worker` keys of an object are lifted out); a thrown error becomes the
 * JSON-in-string error of docs/runpod-protocol.md, "Handler exception → body".
 */
export type Handler = (job: Job, ctx: HandlerContext) => Promise<unknown>;

/** The body posted to job-done (docs/runpod-protocol.md, "Non-generator handler → body"). Key order: output, error, stopPod. */
export interface ResultBody {
  output?: unknown;
  error?: unknown;
  stopPod?: true;
}
