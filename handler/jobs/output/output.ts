/**
 * The output of a successful A1111 call: base64 passed through, images uploaded to S3, and the result size
 * guard (issue "Deployable", items 3 and 4).
 *
 * {@link planOutput} decides, before A1111 is called, where a job's images go:
 * - the input's `"output"` flag: `"base64"` never uploads; `"s3"` always does, and is refused when there is no
 *   bucket or the route returns no images;
 * - without the flag, images are uploaded whenever a bucket is available: the job's own RunPod `s3Config`
 *   (it wins), else the endpoint's `BUCKET_*`.
 *
 * {@link shapeOutput} then builds the output from A1111's body bytes:
 * 1. **Fast path** (no upload, and the result fits): A1111's bytes are passed through untouched (`rawJson`);
 *    the only cost is one length comparison.
 * 2. Upload: the images (`images` of txt2img / img2img / extra-batch-images, `image` of extra-single-image)
 *    are uploaded and replaced in place by presigned GET URLs; `info`, `parameters` and every other key stay.
 * 3. **Size guard**: the result (`{"output": …}` as posted) must be at most `MAX_RESULT_MB`. Over it, the
 *    echoes of input images in `parameters` (`init_images`, `mask`, `latent_mask`, `firstpass_image`, and base64
 *    images inside `alwayson_scripts` / `script_args`) are replaced by `null` (what A1111 sends without
 *    `include_init_images`); still over it, the job fails with the size, the limit and how to configure a
 *    bucket. A result is never dropped silently (RunPod loses results over ~20 MB, protocol spec §17).
 *
 * Steps 2–3 parse A1111's body in full and re-encode it (same values, compact JSON); only they do.
 */
import type { OutputConfig } from '../../config.js';
import type { Log } from '../../log.js';
import { JobInputError } from '../../errors/index.js';
import { appendIndex, appendKey, plural } from '../format.js';
import type { RouteSpec } from '../input/routes.js';
import { parseJobS3Config, resolveBucket, type BucketTarget, type S3Uploader } from './s3.js';
import { BucketConfigError, S3UploadError } from '../../errors/index.js';

/** Where a job asks its images to go (`"output"` in the job input). */
export type OutputMode = 'base64' | 's3';

/** The values `"output"` may take. */
export const OUTPUT_MODES: readonly OutputMode[] = ['base64', 's3'];

/** Bytes the runtime adds around an output when it posts it: `{"output":` and `}`. */
export const RESULT_ENVELOPE_BYTES = '{"output":}'.length;

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

const HOW_TO_BUCKET =
  'set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY (and BUCKET_NAME) on the endpoint, or send s3Config {"accessId", "accessSecret", "bucketName", "endpointUrl"} with the job';

/**
 * Decides where a job's images go (see the module comment).
 * @param route the job's route.
 * @param flag the input's `"output"` (already checked to be one of {@link OUTPUT_MODES}), or undefined.
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

/** The keys of A1111's `parameters` that echo input images. */
const ECHO_KEYS = ['init_images', 'mask', 'latent_mask', 'firstpass_image'] as const;
/** The keys of `parameters` whose nested strings may be images (extension arguments). */
const SCRIPT_KEYS = ['alwayson_scripts', 'script_args'] as const;

/** Shortest string inside script arguments taken for an image. */
const MIN_SCRIPT_IMAGE_CHARS = 256;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True for a base64 PNG / JPEG / WebP (raw, by its first characters, or as a `data:image/…` URI). */
function looksLikeImage(s: string): boolean {
  if (s.length < MIN_SCRIPT_IMAGE_CHARS) return false;
  return s.startsWith('data:image/') || s.startsWith('iVBORw0KGgo') || s.startsWith('/9j/') || s.startsWith('UklGR');
}

/**
 * Replaces by `null` the input images A1111 echoes in `output.parameters`: `init_images`, `mask`,
 * `latent_mask`, `firstpass_image` (when not already empty), and base64 images nested in `alwayson_scripts`
 * and `script_args` (strings of at least 256 characters starting like a base64 PNG, JPEG or WebP, or
 * `data:image/`). Mutates `output`.
 * @returns the paths replaced, e.g. `["parameters.init_images", "parameters.alwayson_scripts.controlnet.args[0].image"]`.
 */
export function dropInputEchoes(output: Record<string, unknown>): string[] {
  const params = output.parameters;
  if (!isObject(params)) return [];
  const dropped: string[] = [];
  for (const key of ECHO_KEYS) {
    if (!Object.hasOwn(params, key)) continue;
    const v = params[key];
    if ((typeof v === 'string' && v !== '') || (Array.isArray(v) && v.length > 0)) {
      params[key] = null;
      dropped.push(`parameters.${key}`);
    }
  }
  for (const key of SCRIPT_KEYS) {
    if (!Object.hasOwn(params, key)) continue;
    // Iterative walk (no recursion depth limit); containers are replaced in place.
    const stack: Array<{ holder: Record<string, unknown> | unknown[]; slot: string | number; path: string }> = [
      { holder: params, slot: key, path: `parameters.${key}` },
    ];
    while (stack.length > 0) {
      const { holder, slot, path } = stack.pop()!;
      const value: unknown = Array.isArray(holder) ? holder[slot as number] : holder[slot as string];
      if (typeof value === 'string') {
        if (looksLikeImage(value)) {
          if (Array.isArray(holder)) holder[slot as number] = null;
          else holder[slot as string] = null;
          dropped.push(path);
        }
      } else if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) stack.push({ holder: value, slot: i, path: appendIndex(path, i) });
      } else if (isObject(value)) {
        const keys = Object.keys(value);
        for (let i = keys.length - 1; i >= 0; i--) stack.push({ holder: value, slot: keys[i]!, path: appendKey(path, keys[i]!) });
      }
    }
  }
  return dropped;
}

/** `31.5 MB`, `42.3 kB`. */
function megabytes(bytes: number): string {
  return bytes >= 100_000 ? `${(bytes / 1_000_000).toFixed(1)} MB` : `${(bytes / 1000).toFixed(1)} kB`;
}

/** `19 MiB (19922944 bytes, MAX_RESULT_MB=19)`, or `8192 bytes` for a limit that is not whole MiB (tests). */
function limitText(maxResultBytes: number, limitName: ResultLimitName): string {
  const mib = maxResultBytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB (${maxResultBytes} bytes, ${limitName}=${mib})` : `${maxResultBytes} bytes`;
}

/** The variable a result limit comes from. */
export type ResultLimitName = 'MAX_RESULT_MB' | 'MAX_RESULT_MB_RUN' | 'MAX_RESULT_MB_SYNC';

/**
 * The result size limit of a job, by the route it came from: RunPod accepts payloads of at most 10 MB on `/run`
 * and 20 MB on `/runsync` (RunPod docs, serverless/endpoints/operation-reference.mdx), and a job id starting with
 * `sync-` came from `/runsync` (the docs' `/runsync` example id). `MAX_RESULT_MB` set: one limit for every job.
 * @param output `maxResultBytes` (always) and the per-route limits (absent when `MAX_RESULT_MB` is set)
 * @returns the limit in bytes and the variable that sets it
 */
export function resultLimitFor(output: Pick<OutputConfig, 'maxResultBytes' | 'maxResultBytesRun' | 'maxResultBytesSync'>, jobId: string): { bytes: number; name: ResultLimitName } {
  if (jobId.startsWith('sync-')) {
    return output.maxResultBytesSync !== undefined ? { bytes: output.maxResultBytesSync, name: 'MAX_RESULT_MB_SYNC' } : { bytes: output.maxResultBytes, name: 'MAX_RESULT_MB' };
  }
  return output.maxResultBytesRun !== undefined ? { bytes: output.maxResultBytesRun, name: 'MAX_RESULT_MB_RUN' } : { bytes: output.maxResultBytes, name: 'MAX_RESULT_MB' };
}

/**
 * The one-line error of a result over the limit: its size, the limit, what was tried, and how to get large
 * results (a bucket, `s3Config`, `"output": "s3"`).
 */
export function resultTooLargeMessage(size: number, maxResultBytes: number, plan: OutputPlan, dropped: readonly string[], limitName: ResultLimitName = 'MAX_RESULT_MB'): string {
  const tried: string[] = [];
  if (plan.upload) tried.push('with the images uploaded to S3');
  if (dropped.length) tried.push(`without the input images echoed in ${dropped.length === 1 ? dropped[0] : `parameters (${plural(dropped.length, 'field')})`}`);
  const head = `result too large to return: ${megabytes(size)} (${size} bytes) as JSON${tried.length ? `, ${tried.join(' and ')},` : ''} is over the limit of ${limitText(maxResultBytes, limitName)}; ${limitName === 'MAX_RESULT_MB' ? 'RunPod loses results over ~20 MB.' : `RunPod refuses results over ${limitName === 'MAX_RESULT_MB_RUN' ? '10 MB for a /run job' : '20 MB for a /runsync job'}.`}`;
  let advice: string;
  if (plan.upload) advice = `The rest of the answer (info, parameters) is too large: ask for fewer images or a shorter prompt, or raise ${limitName}.`;
  else if (!plan.imageKey) advice = `This route's answer cannot be uploaded: ask for less, or raise ${limitName}.`;
  else if (plan.flag === 'base64' && plan.bucketAvailable) advice = 'This job asked for "output": "base64": leave it out, or send "output": "s3", to get the images as presigned URLs from the bucket.';
  else advice = `To get the images as presigned URLs instead, configure a bucket: ${HOW_TO_BUCKET} ("output": "s3" then forces the upload); or ask for fewer or smaller images.`;
  return `${head} ${advice}`;
}

/** Decodes one base64 image string of A1111's answer (raw, or after a `data:…;base64,` prefix). */
function decodeImage(s: string): Buffer {
  const comma = s.startsWith('data:') ? s.indexOf(',') : -1;
  return Buffer.from(comma >= 0 ? s.slice(comma + 1) : s, 'base64');
}

/** What {@link shapeOutput} needs besides the body and the plan. */
export interface ShapeContext {
  jobId: string;
  /** Aborts uploads (job stopped). */
  signal: AbortSignal;
  /** Wraps serialised JSON for the runtime (`HandlerContext.rawJson`). */
  rawJson(bytes: Buffer): unknown;
  uploader: S3Uploader;
  /** The job's result limit in bytes ({@link resultLimitFor}): the largest `{"output": …}` posted. */
  maxResultBytes: number;
  /** The variable that sets `maxResultBytes`, named in messages; default `MAX_RESULT_MB`. */
  limitName?: ResultLimitName;
  /** `S3_URL_EXPIRES_S`: lifetime of presigned URLs, seconds. */
  urlExpiresS: number;
  log: Log;
}

/**
 * Builds a successful job's output from A1111's JSON body (a non-empty object without `error` /
 * `refresh_worker`, already checked), by the steps of the module comment.
 * @param body A1111's body bytes (UTF-8 JSON).
 * @param plan from {@link planOutput}.
 * @returns `ctx.rawJson(bytes)` (A1111's bytes on the fast path, the re-encoded output otherwise), or
 *   `{error}` (FAILED job) when an upload failed (`S3 upload of image 2 to <bucket>/<key> failed: <reason>`)
 *   or the result is over the limit ({@link resultTooLargeMessage}).
 * @throws the job signal's reason when the job was stopped during an upload.
 */
export async function shapeOutput(body: Buffer, plan: OutputPlan, ctx: ShapeContext): Promise<unknown> {
  // Fast path: nothing to upload and small enough — A1111's bytes untouched.
  if (!plan.upload && body.length + RESULT_ENVELOPE_BYTES <= ctx.maxResultBytes) return ctx.rawJson(body);

  const output = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  const failed = await uploadInPlace(output, plan, ctx);
  if (failed) return failed;
  let json = Buffer.from(JSON.stringify(output));
  let dropped: string[] = [];
  if (json.length + RESULT_ENVELOPE_BYTES > ctx.maxResultBytes) {
    const before = json.length + RESULT_ENVELOPE_BYTES;
    dropped = dropInputEchoes(output);
    if (dropped.length > 0) {
      json = Buffer.from(JSON.stringify(output));
      ctx.log.warn(
        `Result of ${before} bytes is over ${ctx.limitName ?? 'MAX_RESULT_MB'} (${ctx.maxResultBytes} bytes): input image echoes replaced by null (${dropped.join(', ')}), now ${json.length + RESULT_ENVELOPE_BYTES} bytes`,
        ctx.jobId,
      );
    }
    if (json.length + RESULT_ENVELOPE_BYTES > ctx.maxResultBytes) {
      const message = resultTooLargeMessage(json.length + RESULT_ENVELOPE_BYTES, ctx.maxResultBytes, plan, dropped, ctx.limitName);
      ctx.log.error(message, ctx.jobId);
      return { error: message };
    }
  }
  return ctx.rawJson(json);
}

/**
 * With `plan.upload`: uploads the images of A1111's parsed answer (`images` list or `image` string) and replaces
 * them in place by presigned GET URLs. Without: does nothing.
 * @returns `{error}` when an upload failed (logged), else undefined
 * @throws the job signal's reason when the job was stopped during an upload
 */
async function uploadInPlace(output: Record<string, unknown>, plan: OutputPlan, ctx: ShapeContext): Promise<{ error: string } | undefined> {
  if (!plan.upload || !plan.imageKey) return undefined;
  const value = output[plan.imageKey];
  const list: unknown[] = plan.imageKey === 'image' ? [value] : Array.isArray(value) ? value : [];
  // Only non-empty strings are images (an empty `image` means A1111 produced none).
  const slots = list.flatMap((v, i) => (typeof v === 'string' && v !== '' ? [i] : []));
  if (slots.length === 0) return undefined;
  const images = slots.map((i) => decodeImage(list[i] as string));
  let urls: string[];
  try {
    urls = await ctx.uploader.uploadImages({
      target: plan.upload,
      jobId: ctx.jobId,
      images,
      expiresS: ctx.urlExpiresS,
      signal: ctx.signal,
      ...(plan.keyPrefix ? { keyPrefix: plan.keyPrefix } : {}),
    });
  } catch (e) {
    if (e instanceof S3UploadError) {
      ctx.log.error(e.message, ctx.jobId);
      return { error: e.message };
    }
    throw e;
  }
  const replaced = [...list];
  slots.forEach((slot, k) => (replaced[slot] = urls[k]));
  output[plan.imageKey] = plan.imageKey === 'image' ? replaced[0] : replaced;
  return undefined;
}

/**
 * Builds a request dialect's output (dialects.ts) from A1111's JSON body: parses it, uploads the images when
 * `plan.upload` (replacing them by presigned URLs), calls `reshape(answer, uploaded)` and checks the size of the
 * result against `MAX_RESULT_MB` (a dialect's output has no input-image echoes to drop).
 * @param body A1111's body bytes (a JSON object, already checked).
 * @param reshape builds the dialect's output; `uploaded` is true when `answer.images` now holds URLs.
 * @returns `ctx.rawJson(bytes)` of the dialect's output, or `{error}` when an upload failed or the result is over
 *   the limit ({@link resultTooLargeMessage}).
 * @throws the job signal's reason when the job was stopped during an upload
 */
export async function shapeDialectOutput(
  body: Buffer,
  plan: OutputPlan,
  reshape: (answer: Record<string, unknown>, uploaded: boolean) => unknown,
  ctx: ShapeContext,
): Promise<unknown> {
  const answer = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  const failed = await uploadInPlace(answer, plan, ctx);
  if (failed) return failed;
  const json = Buffer.from(JSON.stringify(reshape(answer, plan.upload !== undefined && plan.imageKey !== undefined)));
  if (json.length + RESULT_ENVELOPE_BYTES > ctx.maxResultBytes) {
    const message = resultTooLargeMessage(json.length + RESULT_ENVELOPE_BYTES, ctx.maxResultBytes, plan, [], ctx.limitName);
    ctx.log.error(message, ctx.jobId);
    return { error: message };
  }
  return ctx.rawJson(json);
}
