/**
 * The A1111 job handler (ARCHITECTURE.md `handler/jobs/`): the pipeline one job goes through, top to bottom.
 *
 * Input shapes:
 * - `{"api": {"method": "POST", "endpoint": "/sdapi/v1/txt2img"}, "payload": {...}}` — any allow-listed route;
 * - an input **without `api`** is a txt2img payload (the official runpod-workers/worker-a1111 shape);
 * - `{"api": {"method": "POST", "endpoint": "/txt2img" | "/v1/images/generations" | …}, "payload": {...}}` — a
 *   request dialect (SDCN, OpenAI-style images API), translated into one A1111 call.
 *
 * Stages (each in its own module; the first refusal ends the job without calling A1111):
 * 1. `checkInputShape` (input/guard.ts): size of the input as JSON (`MAX_INPUT_BYTES`), nesting depth, no
 *    `__proto__`/`constructor`/`prototype` keys — before anything else is looked at;
 * 2. `parseEnvelope` (input/envelope.ts): the route allow-list (input/routes.ts), or a dialect's endpoint, and the
 *    worker's own options (`preview`, `timeout_s`, `output`, `refresh_worker`);
 * 3. `toA1111Request` (dialects/index.ts): a dialect's request translated, once;
 * 4. `OutputStage.plan` (output/stage.ts): where the images go — the input's `"output"`, the job's `s3Config`,
 *    the endpoint's `BUCKET_*`; `"s3"` without a bucket is refused here;
 * 5. `checkRequest` (checks.ts): the route the server serves, its request model, the caps, the settings, the images
 *    and image URLs, the names against A1111's live lists;
 * 6. `leaseBackend`, `callA1111` (call.ts): the least-busy ready backend, progress and previews while it runs;
 * 7. `OutputStage.shape` (output/stage.ts): A1111's bytes passed through, or its images uploaded, or a dialect's
 *    reshape, within `MAX_RESULT_MB`.
 * A failure at any stage becomes the job's outcome by the one table of errors/outcome.ts: `{error}` (FAILED), plus
 * `refresh_worker: true` when the pod's A1111 is gone; a bug is rethrown.
 */
import type { Lease } from '../a1111/pool.js';
import { failedJobOutput } from '../errors/outcome.js';
import { callA1111, leaseBackend } from './call.js';
import { checkRequest } from './checks.js';
import { DIALECTS, toA1111Request } from './dialects/index.js';
import { checkInputShape } from './input/guard.js';
import { parseEnvelope as readEnvelope, type Envelope } from './input/envelope.js';
import type { JobContext, JobLike } from './job.js';
import { createJobServices, type A1111HandlerOptions } from './services.js';
import type { Dialect } from './dialects/dialects.js';

export type { JobContext, JobLike } from './job.js';
export type { JobOptions, Envelope } from './input/envelope.js';
export { DEFAULT_OUTPUT_CONFIG, type A1111HandlerOptions } from './services.js';
export { DIALECTS } from './dialects/index.js';

/** Reads a job's envelope with this handler's request dialects (input/envelope.ts). */
export function parseEnvelope(input: unknown): Envelope<Dialect> {
  return readEnvelope(input, DIALECTS);
}

/**
 * Creates the job handler. Never throws for bad input or A1111 failures: those return `{error}` (a FAILED job, see
 * errors/outcome.ts). Only a bug throws.
 */
export function createA1111Handler(opts: A1111HandlerOptions): (job: JobLike, ctx: JobContext) => Promise<unknown> {
  const s = createJobServices(opts);
  const { log, limits, pool } = s;
  return async (job, ctx) => {
    const startedAtMs = Date.now();
    // REFRESH_WORKER: every result (FAILED ones included) gets stopPod, as runpod-python's refresh_worker config.
    if (s.refreshWorker) ctx.refreshWorker?.();
    let lease: Lease | undefined;
    try {
      checkInputShape(job.input, limits);
      const envelope = parseEnvelope(job.input);
      if (envelope.options.refreshWorker) ctx.refreshWorker?.();
      const request = await toA1111Request(envelope, { lists: s.lists, strictNames: pool.config.strictNames, limits, signal: ctx.signal, log, jobId: job.id });
      // When the dialect chose the output (e.g. response_format "url"), refusals name its field, not input.output.
      const plan = s.outputStage.plan(request.route, request.options.output, job.s3Config, request.translation?.outputField);
      await checkRequest(request, job.id, ctx.signal, s);
      // A job taken ahead (take-ahead) was checked while the backend finished the one before; it waits here.
      await ctx.slot?.();
      lease = leaseBackend(request.route, s);
      const answer = await callA1111(request, lease, job.id, ctx, s);
      const { translation } = request;
      return await s.outputStage.shape(answer, {
        id: job.id,
        route: request.route,
        plan,
        signal: ctx.signal,
        rawJson: (bytes) => ctx.rawJson(bytes),
        ...(translation ? { reshape: (body: Record<string, unknown>, uploaded: boolean) => translation.reshape(body, { uploaded, startedAtMs }) } : {}),
      });
    } catch (e) {
      // One dead backend of several does not stop a pod whose others work.
      const failed = lease?.backend;
      const otherBackendReady = () => pool.managesHealth && pool.backends.some((b) => b !== failed && b.state === 'ready');
      return failedJobOutput(e, { jobId: job.id, log, otherBackendReady });
    }
  };
}
