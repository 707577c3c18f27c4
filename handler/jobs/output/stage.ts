/**
 * The output stage of the job pipeline, its one entry point: created once per handler with the endpoint's output
 * settings, it decides where a job's images go before A1111 is called ({@link OutputStage.plan}) and turns A1111's
 * answer into the job's output after ({@link OutputStage.shape}): the answer checked, the images uploaded or passed
 * through, the size guard applied; or the `{error}` that fails the job.
 */
import { bodyParts, type A1111Response } from '../../a1111/client.js';
import { jsonSkeleton } from '../../a1111/json-skeleton.js';
import type { OutputConfig } from '../../config.js';
import type { Log } from '../../log.js';
import { isObject } from '../format.js';
import type { OutputMode } from '../input/envelope.js';
import type { RouteSpec } from '../input/routes.js';
import { planOutput, resolveEnvBucket, type EnvBucket, type OutputPlan } from './plan.js';
import { shapeDialectOutput, shapeOutput, shapeSpecialAnswer, type ShapeContext } from './shape.js';
import { resultLimitFor } from './size-guard.js';
import { S3Uploader, type S3UploaderOptions } from './uploader.js';

/** What {@link OutputStage} is created with. */
export interface OutputStageOptions {
  /** `cfg.output`: `BUCKET_*` (already read by config.ts), `MAX_RESULT_MB*`, `S3_URL_EXPIRES_S`. */
  output: OutputConfig;
  log: Log;
  /** Tuning of the S3 uploads (concurrency, retries, timeouts); tests shorten the retry delays. */
  s3?: S3UploaderOptions;
}

/** A1111's answer to the job's call: HTTP status and body bytes (as the parts they arrived in, when they did). */
export type A1111Answer = A1111Response;

/** The job as {@link OutputStage.shape} needs it. */
export interface OutputJob {
  /** RunPod's job id (a `sync-` id came from `/runsync`, which has its own result limit). */
  id: string;
  /** The A1111 route called. */
  route: RouteSpec;
  /** From {@link OutputStage.plan}. */
  plan: OutputPlan;
  /** Aborts the uploads (job stopped). */
  signal: AbortSignal;
  /** Wraps serialised JSON (one buffer, or parts in order) for the runtime (`JobContext.rawJson`). */
  rawJson(bytes: Buffer | readonly Buffer[]): unknown;
  /** A request dialect's reshaping of A1111's answer; `uploaded`: `images` now holds presigned URLs. */
  reshape?: (answer: Record<string, unknown>, uploaded: boolean) => unknown;
}

/**
 * One per handler. Resolves `BUCKET_*` once (logging where outputs go, or why the settings are unusable: image jobs
 * then fail until fixed) and keeps the S3 client of that bucket between jobs.
 */
export class OutputStage {
  /** The endpoint's bucket, resolved at creation. */
  readonly envBucket: EnvBucket;
  readonly #uploader: S3Uploader;
  readonly #output: OutputConfig;
  readonly #log: Log;

  constructor(opts: OutputStageOptions) {
    this.#output = opts.output;
    this.#log = opts.log;
    this.envBucket = resolveEnvBucket(opts.output);
    if (this.envBucket.error) opts.log.error(`Bucket settings unusable, image jobs will fail until fixed: ${this.envBucket.error}`);
    else if (this.envBucket.target) opts.log.info(`Outputs go to S3: ${this.envBucket.target.toString()}`);
    this.#uploader = new S3Uploader(opts.log, opts.s3);
  }

  /**
   * Decides where a job's images go, before A1111 is called (plan.ts `planOutput` with the endpoint's bucket).
   * @param flag the input's `"output"`, or undefined
   * @param jobS3Config the job's `s3Config` as received
   * @param s3Label how refusals name the request for `"s3"` (a dialect names its own field)
   * @throws JobInputError naming the field (see `planOutput`)
   */
  plan(route: RouteSpec, flag: OutputMode | undefined, jobS3Config: unknown, s3Label?: string): OutputPlan {
    return planOutput(route, flag, jobS3Config, this.envBucket, s3Label);
  }

  /**
   * The job's output from A1111's answer (status 2xx, already read):
   * - not JSON, or a generation route's answer without an `images` list of strings, or a dialect's answer that is
   *   not an object: `{error}` naming the route;
   * - a dialect's request: `reshape` applied, after the uploads (shape.ts `shapeDialectOutput`);
   * - a non-empty object without `error` / `refresh_worker`: passed through or uploaded (shape.ts `shapeOutput`);
   * - any other answer (RunPod's result rules treat it specially): the exact value (`shapeSpecialAnswer`).
   * Every path applies the job's result limit (`MAX_RESULT_MB`, or the `/run` / `/runsync` one).
   * @returns the output (a `rawJson` value or a plain value), or `{error}` (FAILED job)
   * @throws the job signal's reason when the job was stopped during an upload
   */
  async shape(answer: A1111Answer, job: OutputJob): Promise<unknown> {
    const { status } = answer;
    const { route, plan } = job;
    const said = `A1111 ${status} on ${route.method} ${route.path}: answer`;
    // Only the structure is read (long base64 strings skipped); the bytes themselves are passed through.
    const parts = bodyParts(answer);
    let parsed: unknown;
    try {
      parsed = jsonSkeleton(parts);
    } catch {
      return { error: `${said} is not JSON: ${JSON.stringify(answer.body.subarray(0, 80).toString('utf8'))}` };
    }
    if (route.generates) {
      const images = isObject(parsed) ? parsed.images : undefined;
      if (!Array.isArray(images) || images.some((i) => typeof i !== 'string')) return { error: `${said} has no "images" list of base64 strings` };
    }
    const limit = resultLimitFor(this.#output, job.id);
    const ctx: ShapeContext = {
      jobId: job.id,
      signal: job.signal,
      rawJson: (b) => job.rawJson(b),
      uploader: this.#uploader,
      maxResultBytes: limit.bytes,
      limitName: limit.name,
      urlExpiresS: this.#output.urlExpiresS,
      log: this.#log,
    };
    if (job.reshape) {
      if (!isObject(parsed)) return { error: `${said} is not a JSON object` };
      return shapeDialectOutput(answer.body, plan, job.reshape, ctx);
    }
    // An `error` / `refresh_worker` key or `{}` would be read by RunPod's result rules: keep the exact value.
    if (isObject(parsed) && Object.keys(parsed).length > 0 && !Object.hasOwn(parsed, 'error') && !Object.hasOwn(parsed, 'refresh_worker')) {
      return shapeOutput(parts, plan, ctx);
    }
    return shapeSpecialAnswer(answer.body, plan, ctx);
  }

  /** Closes the kept S3 client of the endpoint's bucket (its keep-alive sockets). */
  close(): Promise<void> {
    return this.#uploader.close();
  }
}
