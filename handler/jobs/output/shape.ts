/**
 * Builds a job's output from A1111's body bytes:
 * 1. **Fast path** (no upload, and the result fits): A1111's bytes are passed through untouched (`rawJson`); the
 *    only cost is one length comparison.
 * 2. Upload: the images (`images` of txt2img / img2img / extra-batch-images, `image` of extra-single-image) are
 *    uploaded and replaced in place by presigned GET URLs; `info`, `parameters` and every other key stay.
 * 3. Size guard (size-guard.ts): over the job's limit, the input image echoes are dropped; still over it, the job
 *    fails with the size, the limit and how to configure a bucket.
 *
 * Steps 2–3 parse A1111's body in full and re-encode it (same values, compact JSON); only they do.
 */
import type { Log } from '../../log.js';
import { S3UploadError } from '../../errors/index.js';
import { joinParts, partsLength } from '../../parts.js';
import type { OutputPlan } from './plan.js';
import { dropInputEchoes, RESULT_ENVELOPE_BYTES, resultTooLargeMessage, type ResultLimitName } from './size-guard.js';
import type { S3Uploader } from './uploader.js';

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
  /** Wraps serialised JSON (one buffer, or parts in order) for the runtime (`HandlerContext.rawJson`). */
  rawJson(bytes: Buffer | readonly Buffer[]): unknown;
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
 * The `{error}` of a result over the job's limit (the error is logged), or undefined when it fits.
 * @param json the output's JSON bytes (without the runtime's `{"output": …}` envelope)
 */
function oversized(json: Buffer, plan: OutputPlan, dropped: readonly string[], ctx: ShapeContext): { error: string } | undefined {
  const size = json.length + RESULT_ENVELOPE_BYTES;
  if (size <= ctx.maxResultBytes) return undefined;
  const message = resultTooLargeMessage(size, ctx.maxResultBytes, plan, dropped, ctx.limitName);
  ctx.log.error(message, ctx.jobId);
  return { error: message };
}

/**
 * Builds a successful job's output from A1111's JSON body (a non-empty object without `error` /
 * `refresh_worker`, already checked), by the steps of the module comment.
 * @param parts A1111's body bytes (UTF-8 JSON) as the parts they arrived in: passed on as they are on the fast path.
 * @param plan from {@link planOutput}.
 * @returns `ctx.rawJson(bytes)` (A1111's bytes on the fast path, the re-encoded output otherwise), or
 *   `{error}` (FAILED job) when an upload failed (`S3 upload of image 2 to <bucket>/<key> failed: <reason>`)
 *   or the result is over the limit ({@link resultTooLargeMessage}).
 * @throws the job signal's reason when the job was stopped during an upload.
 */
export async function shapeOutput(parts: readonly Buffer[], plan: OutputPlan, ctx: ShapeContext): Promise<unknown> {
  const length = partsLength(parts);
  // Fast path: nothing to upload and small enough — A1111's bytes untouched, not even joined.
  if (!plan.upload && length + RESULT_ENVELOPE_BYTES <= ctx.maxResultBytes) return ctx.rawJson(parts);

  const body = joinParts(parts, length);
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
  }
  return oversized(json, plan, dropped, ctx) ?? ctx.rawJson(json);
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
 * Builds a request dialect's output (jobs/dialects/) from A1111's JSON body: parses it, uploads the images when
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
  return oversized(json, plan, [], ctx) ?? ctx.rawJson(json);
}

/**
 * The output of an answer RunPod's result rules treat specially (an object with an `error` / `refresh_worker` key,
 * `{}`, or a value that is not an object): the exact parsed value, within the job's limit. Nothing is uploaded, and
 * the refusal's advice does not offer one (`plan.bucketAvailable` only).
 * @param body A1111's body bytes (valid JSON, already checked).
 * @returns the parsed value, or `{error}` when it is over the limit ({@link resultTooLargeMessage}).
 */
export function shapeSpecialAnswer(body: Buffer, plan: OutputPlan, ctx: ShapeContext): unknown {
  return oversized(body, { bucketAvailable: plan.bucketAvailable }, [], ctx) ?? JSON.parse(body.toString('utf8'));
}
