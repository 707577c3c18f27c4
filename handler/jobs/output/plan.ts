/**
 * Where a job's images go, decided before A1111 is called ({@link planOutput}):
 * - the input's `"output"` flag: `"base64"` never uploads; `"s3"` always does, and is refused when there is no
 *   bucket or the route returns no images;
 * - without the flag, images are uploaded whenever a bucket is available: the job's own RunPod `s3Config`
 *   (it wins), else the endpoint's `BUCKET_*`.
 */
import type { OutputConfig } from '../../config.js';
import { BucketConfigError, JobInputError } from '../../errors/index.js';
import type { OutputMode } from '../input/envelope.js';
import type { RouteSpec } from '../input/routes.js';
import { parseJobS3Config, resolveBucket, type BucketTarget } from './bucket.js';

/** The output key holding a route's images: `images` (a list) or `image` (one string); undefined: no images. */
export function imageOutputKey(route: RouteSpec): 'images' | 'image' | undefined {
  switch (route.name) {
    case 'txt2img':
    case 'img2img':
    case 'extra-batch-images':
      return route.method === 'POST' ? 'images' : undefined;
    case 'extra-single-image':
      return route.method === 'POST' ? 'image' : undefined;
    default:
      return undefined;
  }
}

/** The endpoint's bucket (`BUCKET_*`), resolved once: the target, or why it is unusable. */
export interface EnvBucket {
  target?: BucketTarget;
  /** The {@link BucketConfigError} message when `BUCKET_*` are set but unusable (e.g. no bucket name). */
  error?: string;
}

/**
 * Resolves `OutputConfig.bucket` (`BUCKET_*`) once, at start-up.
 * @returns `{}` without a bucket, `{target}`, or `{error}` naming the variable when the settings are unusable.
 */
export function resolveEnvBucket(output: Pick<OutputConfig, 'bucket'>): EnvBucket {
  if (!output.bucket) return {};
  try {
    return { target: resolveBucket(output.bucket, 'env') };
  } catch (e) {
    if (e instanceof BucketConfigError) return { error: e.message };
    throw e;
  }
}

/** Where a job's images go, decided before A1111 is called. */
export interface OutputPlan {
  /** The bucket the images are uploaded to, or undefined: base64 in the output. */
  upload?: BucketTarget;
  /** The job's `"output"` flag, if any. */
  flag?: OutputMode;
  /** True when a bucket (job or env) could have been used, whatever the flag. */
  bucketAvailable: boolean;
  /** The output key holding the route's images, or undefined when the route returns none. */
  imageKey?: 'images' | 'image';
  /** The job's `s3Config.objectPath` ({@link parseObjectPath}), prefixed to its object keys when its own bucket is used. */
  keyPrefix?: string;
}

/**
 * Reads `s3Config.objectPath` of a request, the key prefix of the job's uploads (an optional key of RunPod's
 * `S3Config` in newer runpod/js-sdk `src/index.ts` types; RunPod's docs show only the four other keys):
 * slash-separated segments of `[A-Za-z0-9._-]`, no `.` / `..`, at most
 * 512 characters; leading and trailing slashes are dropped.
 * @returns the prefix (`outputs/2025`), or undefined when absent, null or empty
 * @throws JobInputError naming the field for anything else
 */
export function parseObjectPath(s3Config: unknown): string | undefined {
  if (s3Config === null || typeof s3Config !== 'object' || !Object.hasOwn(s3Config, 'objectPath')) return undefined;
  const v = (s3Config as { objectPath?: unknown }).objectPath;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new JobInputError(`s3Config.objectPath must be a string (a key prefix such as "outputs/2025"), got ${typeof v}`);
  const path = v.replace(/^\/+|\/+$/g, '');
  if (path === '') return undefined;
  const bad = path.length > 512 || path.split('/').some((seg) => !/^[A-Za-z0-9._-]+$/.test(seg) || seg === '.' || seg === '..');
  if (bad) {
    throw new JobInputError(`s3Config.objectPath ${JSON.stringify(v.slice(0, 80))} is not allowed: use segments of letters, digits, ".", "_", "-" separated by "/" (no "." or ".." segments, at most 512 characters)`);
  }
  return path;
}

/** How to get a bucket, as refusals and the size guard tell it. */
export const HOW_TO_BUCKET =
  'set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY (and BUCKET_NAME) on the endpoint, or send s3Config {"accessId", "accessSecret", "bucketName", "endpointUrl"} with the job';

/**
 * Decides where a job's images go (see the module comment).
 * @param route the job's route.
 * @param flag the input's `"output"` (already checked by input/envelope.ts), or undefined.
 * @param jobS3Config the job's `s3Config` key as received (undefined/null: none).
 * @param env the endpoint's bucket ({@link resolveEnvBucket}).
 * @param s3Label how messages name the request for `"s3"`: `input.output: "s3"` by default; a request dialect
 *   names its own field (e.g. `response_format "url"`).
 * @throws JobInputError naming the field: a malformed `s3Config` (values never shown); `"output": "s3"` on a
 *   route without images or without any bucket; no flag, no `s3Config` and unusable `BUCKET_*` settings on an
 *   image route (so a misconfigured endpoint never falls back to base64 silently).
 */
export function planOutput(route: RouteSpec, flag: OutputMode | undefined, jobS3Config: unknown, env: EnvBucket, s3Label = 'input.output: "s3"'): OutputPlan {
  const settings = parseJobS3Config(jobS3Config);
  let jobTarget: BucketTarget | undefined;
  if (settings) {
    try {
      jobTarget = resolveBucket(settings, 'job');
    } catch (e) {
      if (e instanceof BucketConfigError) throw new JobInputError(`s3Config: ${e.message}`);
      throw e;
    }
  }
  const imageKey = imageOutputKey(route);
  const bucket = jobTarget ?? env.target;
  if (flag === 's3') {
    if (!imageKey) {
      throw new JobInputError(
        `${s3Label} is only for routes that return images (POST txt2img, img2img, extra-single-image, extra-batch-images), not ${route.method} ${route.path}`,
      );
    }
    if (!bucket) {
      throw new JobInputError(
        env.error ? `${s3Label} but the endpoint's bucket settings are unusable: ${env.error}` : `${s3Label} needs a bucket: ${HOW_TO_BUCKET}`,
      );
    }
  }
  if (flag === undefined && imageKey && !bucket && env.error) {
    throw new JobInputError(`the endpoint's bucket settings are unusable: ${env.error} (send "output": "base64" to get base64 images instead)`);
  }
  const keyPrefix = jobTarget ? parseObjectPath(jobS3Config) : undefined;
  return {
    ...(flag !== 'base64' && imageKey && bucket ? { upload: bucket } : {}),
    ...(keyPrefix && jobTarget && bucket === jobTarget ? { keyPrefix } : {}),
    ...(flag ? { flag } : {}),
    bucketAvailable: bucket !== undefined,
    ...(imageKey ? { imageKey } : {}),
  };
}
