/**
 * The A1111 job handler (ARCHITECTURE.md `handler/jobs/`): the `{api: {method, endpoint}, payload}` envelope,
 * the route allow-list, validation against `schemas/`, the A1111 call and the output.
 *
 * Input shapes (issue "The worker"):
 * - `{"api": {"method": "POST", "endpoint": "/sdapi/v1/txt2img"}, "payload": {...}}` — any allow-listed route;
 * - an input **without `api`** is a txt2img payload (the official runpod-workers/worker-a1111 shape).
 *
 * Input checks, in order, each refusing the job with one line and without calling A1111 (docs/request-model.md):
 * 1. `checkInputShape` (guard.ts): size of the input as JSON (`MAX_INPUT_BYTES`), nesting depth, no
 *    `__proto__`/`constructor`/`prototype` keys — before anything else is looked at;
 * 2. `parseEnvelope` (envelope.ts) and `resolveRoute` (routes.ts): the route allow-list; `checkRouteServed`: an
 *    extension's or Forge's route only when the server's OpenAPI lists it;
 * 3. `validatePayload` (validate.ts): the server's request model (its `GET /openapi.json`, else the bundled A1111
 *    v1.10.1 model) with pydantic's coercion, requests A1111 certainly fails on, the operator's cost caps;
 * 4. `checkSettings` (settings.ts): `override_settings` and `POST /options` keys the server lists, less the dangerous;
 * 5. `checkImages` (images.ts, async: DNS for image URLs): base64, image headers, the URL policy;
 * 6. `checkNames` (names.ts): sampler, scheduler, checkpoint, VAE, upscaler, script and always-on script names
 *    against A1111's live lists; unknown styles and LoRAs are warnings unless `STRICT_NAMES=true`.
 *
 * Where the images go is decided with step 2 (`planOutput`, output.ts): the input's `"output": "base64"|"s3"`,
 * the job's RunPod `s3Config`, the endpoint's `BUCKET_*`; `"s3"` without a bucket is refused there.
 *
 * Output: A1111's JSON body as returned (passed through without re-encoding), or with its images uploaded to S3
 * and replaced by presigned URLs, within `MAX_RESULT_MB` (`shapeOutput`, output.ts); or `{error}` — plus
 * `refresh_worker: true` when A1111 is unreachable or its process died — so the runtime posts a FAILED job.
 */
import type { LimitsConfig, OutputConfig } from '../config.js';
import type { Log } from '../log.js';
import { type A1111Client } from '../a1111/client.js';
import { A1111Error } from '../errors/index.js';
import { jsonSkeleton } from '../a1111/json-skeleton.js';
import { A1111Lists } from '../a1111/lists.js';
import { A1111Pool, type Backend } from '../a1111/pool.js';
import { watchProgress, type ProgressReport } from '../a1111/progress.js';
import { bundledModel } from '../a1111/openapi.js';
import type { ServerModel } from '../a1111/server-model.js';
import { ServerModels } from '../a1111/server-models.js';
import { JobInputError } from '../errors/index.js';
import { showValue } from './format.js';
import { checkInputShape } from './input/guard.js';
import { checkImages, type HostLookup } from './images/images.js';
import { checkNames } from './input/names.js';
import { planOutput, RESULT_ENVELOPE_BYTES, resolveEnvBucket, resultLimitFor, resultTooLargeMessage, shapeDialectOutput, shapeOutput, type OutputPlan } from './output/output.js';
import type { Translation } from './dialects/dialects.js';
import { parseEnvelope, type JobOptions } from './input/envelope.js';
import { checkRouteServed, type RouteSpec } from './input/routes.js';
import { checkSettings } from './input/settings.js';
import { S3Uploader, type S3UploaderOptions } from './output/s3.js';
import { validatePayload } from './input/validate.js';
import { OutputFiles } from './output/files.js';

/** The part of the runtime's per-job context this handler uses (structurally RunPod's `HandlerContext`). */
export interface JobContext {
  signal: AbortSignal;
  rawJson(bytes: Buffer): unknown;
  /** Sends a progress update (RunPod `IN_PROGRESS` output); fire-and-forget. */
  progress(output: unknown): void;
  /** Posts one stream chunk (RunPod job-stream). */
  stream(output: unknown): Promise<void>;
  /** Marks the job's result with `"stopPod": true` (RunPod's `refresh_worker`); optional in test contexts. */
  refreshWorker?(): void;
}

/** A job as this handler reads it (RunPod's job, protocol spec §4.4). */
export { DIALECTS, parseEnvelope, type Envelope, type JobOptions } from './input/envelope.js';

/** A job as this handler reads it (RunPod's job, protocol spec §4.4). */
export interface JobLike {
  id: string;
  input: unknown;
  /** RunPod's per-request bucket `{accessId, accessSecret, bucketName, endpointUrl}`, checked by the handler. */
  s3Config?: unknown;
}

/** What {@link createA1111Handler} needs. */
export interface A1111HandlerOptions {
  /**
   * The A1111 backends: a pool (each job runs on its least-busy ready backend, progress and interrupt go there),
   * or one client (a pool of one, without health management).
   */
  client: A1111Client | A1111Pool;
  limits: LimitsConfig;
  log: Log;
  /** Resolves image URL hosts (only with `limits.allowImageUrls`); default the system resolver. Tests inject one. */
  lookup?: HostLookup;
  /** A1111's name lists (cached); default a new cache on `client`. */
  lists?: A1111Lists;
  /**
   * Where outputs go and how large they may be (`cfg.output`: `BUCKET_*`, `MAX_RESULT_MB`, `S3_URL_EXPIRES_S`).
   * Default: no endpoint bucket (jobs may still bring `s3Config`), 19 MiB, URLs valid 7 days.
   */
  output?: OutputConfig;
  /** Tuning of the S3 uploads (concurrency, retries, timeouts); tests shorten the retry delays. */
  s3?: S3UploaderOptions;
  /** The backends' request models (read from their `GET /openapi.json`); default a new cache. */
  models?: ServerModels;
  /** Removes the files A1111 saves for a job (`KEEP_OUTPUTS`, output-files.ts); default one from `output.keepOutputs`. */
  outputFiles?: OutputFiles;
}

/** The output settings used when {@link A1111HandlerOptions.output} is not given. */
export const DEFAULT_OUTPUT_CONFIG: OutputConfig = Object.freeze({ maxResultBytes: 19 * 1024 * 1024, urlExpiresS: 604_800 });

/**
 * Calls A1111 for a job. While a generation runs, polls `/progress` every `PROGRESS_INTERVAL_MS` and sends
 * `{progress, eta_relative, step, steps, job_no, job_count}` updates; with `preview`, streams live previews
 * (`{"preview": <base64>, step, steps, …}` chunks) at most once per `PREVIEW_INTERVAL_MS`. A job's `timeout_s`
 * (capped by `MAX_JOB_TIMEOUT_S`) replaces `A1111_REQUEST_TIMEOUT_S` for this call.
 * @throws A1111Error as `A1111Client.call`
 */
async function callWithProgress(
  client: A1111Client,
  route: RouteSpec,
  payload: unknown,
  options: JobOptions,
  jobId: string,
  ctx: JobContext,
  log: Log,
): Promise<{ status: number; body: Buffer }> {
  const cfg = client.config;
  const timeout =
    options.timeoutS !== undefined
      ? { timeoutMs: Math.min(Math.round(options.timeoutS * 1000), cfg.maxJobTimeoutMs), timeoutName: options.timeoutS * 1000 > cfg.maxJobTimeoutMs ? 'timeout_s, capped by MAX_JOB_TIMEOUT_S' : 'timeout_s' }
      : {};
  const body = route.method === 'POST' ? (payload ?? {}) : undefined;
  if (!route.generates || cfg.progressIntervalMs <= 0) return client.call(route.method, route.path, body, { signal: ctx.signal, ...timeout });
  const stopWatch = new AbortController();
  let streams: Promise<void> = Promise.resolve();
  const watching = watchProgress(client, {
    intervalMs: cfg.progressIntervalMs,
    signal: AbortSignal.any([stopWatch.signal, ctx.signal]),
    log,
    jobId,
    onProgress: (report) => ctx.progress(report),
    ...(options.preview
      ? {
          preview: {
            intervalMs: cfg.previewIntervalMs,
            onPreview: (image: string, report: ProgressReport) => {
              // RunPod stream chunks are at most 1 MB (protocol spec §6): larger previews are skipped.
              if (image.length > 1_000_000) return;
              streams = streams.then(() => ctx.stream({ preview: image, ...report }));
            },
          },
        }
      : {}),
  });
  try {
    return await client.call(route.method, route.path, body, { signal: ctx.signal, ...timeout });
  } finally {
    stopWatch.abort();
    await watching;
    await streams;
  }
}

/** True for a JSON object (not an array, not null). */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Creates the job handler.
 *
 * Each job's input goes through the four checks of the module comment (size/depth/keys, route, payload
 * schema + caps + settings, images/URLs); the first that fails returns `{error: <one line>}` and A1111 is not
 * called. Never throws for bad input or A1111 failures: those return `{error}` (FAILED job). Only a bug throws.
 */
export function createA1111Handler(opts: A1111HandlerOptions): (job: JobLike, ctx: JobContext) => Promise<unknown> {
  const { limits, log, lookup } = opts;
  const pool = opts.client instanceof A1111Pool ? opts.client : A1111Pool.fromClient(opts.client, log);
  const config = pool.config;
  const lists = opts.lists ?? new A1111Lists(pool.caller, log);
  const output = opts.output ?? DEFAULT_OUTPUT_CONFIG;
  const envBucket = resolveEnvBucket(output);
  if (envBucket.error) log.error(`Bucket settings unusable, image jobs will fail until fixed: ${envBucket.error}`);
  else if (envBucket.target) log.info(`Outputs go to S3: ${envBucket.target.toString()}`);
  const uploader = new S3Uploader(log, opts.s3);
  const models = opts.models ?? new ServerModels(log);
  const outputFiles = opts.outputFiles ?? new OutputFiles({ keep: output.keepOutputs === true, log });
  // Each backend's request model is read as soon as it is ready, again after a refresh-* job, and again when a
  // backend that went down is back (it may have restarted with other extensions).
  const prefetch = () => {
    for (const b of pool.backends) {
      if (b.state === 'ready') models.of(b).catch(() => undefined);
      else models.invalidate(b.url);
    }
  };
  pool.onChange(prefetch);
  prefetch();
  /** The model a job is checked against: the ready backends' (common) model; the bundled one while none is ready. */
  const modelForJob = (): Promise<ServerModel> => {
    const ready = pool.backends.filter((b) => b.state === 'ready');
    return ready.length ? models.forJobs(ready) : Promise.resolve(bundledModel());
  };
  return async (job, ctx) => {
    const startedAtMs = Date.now();
    // REFRESH_WORKER: every result (FAILED ones included) gets stopPod, as runpod-python's refresh_worker config.
    if (output.refreshWorker) ctx.refreshWorker?.();
    // The job's result limit: /run or /runsync (a `sync-` id), or MAX_RESULT_MB for both.
    const limit = resultLimitFor(output, job.id);
    let route: RouteSpec;
    let payload: unknown;
    let options: JobOptions;
    let plan: OutputPlan;
    let translation: Translation | undefined;
    /** For a dialect: what the A1111 checks' messages are prefixed with (they name A1111's fields). */
    let translated = '';
    try {
      checkInputShape(job.input, limits);
      const envelope = parseEnvelope(job.input);
      ({ payload, options } = envelope);
      if (options.refreshWorker) ctx.refreshWorker?.();
      if (envelope.dialect) {
        const { dialect, endpoint } = envelope.dialect;
        translation = await dialect.translate(endpoint, payload, {
          lists,
          strictNames: config.strictNames,
          limits,
          signal: ctx.signal,
          log,
          jobId: job.id,
        });
        route = translation.route;
        payload = translation.payload;
        translated = `${dialect.name} ${endpoint} as A1111 ${route.method} ${route.path}: `;
        if (translation.output !== undefined) {
          const decidedBy = translation.outputField ?? `the request (${dialect.name} ${endpoint})`;
          if (options.output !== undefined && options.output !== translation.output) {
            throw new JobInputError(`input.output: ${showValue(options.output)} contradicts ${decidedBy}, which asks for ${showValue(translation.output)} output`);
          }
          options = { ...options, output: translation.output };
        }
      } else {
        route = envelope.route!;
      }
      // When the dialect chose the output (e.g. response_format "url"), refusals name its field, not input.output.
      plan = planOutput(route, options.output, job.s3Config, envBucket, translation?.outputField);
      try {
        const model = await modelForJob();
        checkRouteServed(route, model);
        const checked = validatePayload(route, payload, limits, { model, ...(limits.unknownFields ? { unknownFields: limits.unknownFields } : {}) });
        for (const w of checked.warnings) log.warn(translated + w, job.id);
        if (isObject(payload)) await checkSettings(route, payload, lists, { signal: ctx.signal });
        await checkImages(route, payload, limits, { signal: ctx.signal, ...(lookup ? { lookup } : {}) });
        // 5. Names against A1111's live lists (A1111 would silently substitute unknown ones; issue 5).
        const named = await checkNames(route, payload, lists, { strict: config.strictNames, signal: ctx.signal });
        for (const w of named.warnings) log.warn(translated + w, job.id);
        payload = named.payload;
      } catch (e) {
        if (translated && e instanceof JobInputError) throw new JobInputError(translated + e.message);
        throw e;
      }
    } catch (e) {
      if (e instanceof JobInputError) {
        log.warn(`Job refused: ${e.message}`, job.id);
        return { error: e.message };
      }
      if (e instanceof A1111Error) return a1111Failure(e, job.id, log, pool);
      throw e;
    }
    // A job that refreshes A1111's lists makes the cached ones stale.
    if (route.name.startsWith('refresh-')) {
      lists.invalidate();
      models.invalidate();
    }
    // The least-busy ready backend runs the job; it is given back as soon as A1111 has answered.
    const lease = pool.acquire();
    if (!lease) {
      const message = `A1111 unreachable: no backend ready (${pool.backends.map((b) => `${b.url} ${b.state}`).join(', ') || 'none registered'})`;
      log.error(message, job.id);
      return { error: message, refresh_worker: true };
    }
    let res: { status: number; body: Buffer };
    // Files A1111 may save for this job (save_images, grids, init images): removed in the background once it answered.
    const files = outputFiles.mayWrite(route, payload, lease.backend.url) ? await outputFiles.begin(job.id, lease.backend) : undefined;
    try {
      res = await callWithProgress(lease.client, route, payload, options, job.id, ctx, log);
    } catch (e) {
      lease.release();
      if (e instanceof A1111Error) return a1111Failure(e, job.id, log, pool, lease.backend);
      throw e;
    } finally {
      lease.release();
      if (files) void outputFiles.end(files);
    }
    try {
      // Only the structure is read (long base64 strings skipped); the bytes themselves are passed through.
      let parsed: unknown;
      try {
        parsed = jsonSkeleton(res.body);
      } catch {
        return { error: `A1111 ${res.status} on ${route.method} ${route.path}: answer is not JSON: ${JSON.stringify(res.body.subarray(0, 80).toString('utf8'))}` };
      }
      if (route.generates) {
        const images = isObject(parsed) ? parsed.images : undefined;
        if (!Array.isArray(images) || images.some((i) => typeof i !== 'string')) {
          return { error: `A1111 ${res.status} on ${route.method} ${route.path}: answer has no "images" list of base64 strings` };
        }
      }
      if (translation) {
        if (!isObject(parsed)) return { error: `A1111 ${res.status} on ${route.method} ${route.path}: answer is not a JSON object` };
        const reshape = translation.reshape;
        return await shapeDialectOutput(res.body, plan, (answer, uploaded) => reshape(answer, { uploaded, startedAtMs }), {
          jobId: job.id,
          signal: ctx.signal,
          rawJson: (b) => ctx.rawJson(b),
          uploader,
          maxResultBytes: limit.bytes,
          limitName: limit.name,
          urlExpiresS: output.urlExpiresS,
          log,
        });
      }
      // Pass A1111's bytes through untouched (or with the images uploaded; within MAX_RESULT_MB) unless the
      // result rules of RunPod would treat the object specially (an `error`/`refresh_worker` key, or `{}`):
      // then the parsed value keeps those rules exact.
      if (isObject(parsed) && Object.keys(parsed).length > 0 && !Object.hasOwn(parsed, 'error') && !Object.hasOwn(parsed, 'refresh_worker')) {
        return await shapeOutput(res.body, plan, { jobId: job.id, signal: ctx.signal, rawJson: (b) => ctx.rawJson(b), uploader, maxResultBytes: limit.bytes, limitName: limit.name, urlExpiresS: output.urlExpiresS, log });
      }
      // Special answers: the exact value (the skeleton may have blanked long strings), within MAX_RESULT_MB.
      if (res.body.length + RESULT_ENVELOPE_BYTES > limit.bytes) {
        const message = resultTooLargeMessage(res.body.length + RESULT_ENVELOPE_BYTES, limit.bytes, { bucketAvailable: plan.bucketAvailable }, [], limit.name);
        log.error(message, job.id);
        return { error: message };
      }
      return JSON.parse(res.body.toString('utf8'));
    } catch (e) {
      if (e instanceof A1111Error) return a1111Failure(e, job.id, log, pool);
      throw e;
    }
  };
}

/**
 * The FAILED output of an A1111 failure: its message, plus `refresh_worker` when A1111 is unreachable or died and
 * no other backend of the pod is ready (one dead backend of several does not refresh a pod whose others work).
 */
function a1111Failure(e: A1111Error, jobId: string, log: Log, pool: A1111Pool, backend?: Backend): { error: string; refresh_worker?: true } {
  log.error(e.message, jobId);
  const othersReady = pool.managesHealth && pool.backends.some((b) => b !== backend && b.state === 'ready');
  return e.kind === 'unreachable' && !othersReady ? { error: e.message, refresh_worker: true } : { error: e.message };
}
