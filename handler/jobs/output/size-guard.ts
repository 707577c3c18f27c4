/**
 * The result size guard: the result (`{"output": …}` as posted) must be at most the job's limit (`MAX_RESULT_MB`,
 * or the per-route `MAX_RESULT_MB_RUN` / `MAX_RESULT_MB_SYNC`). Over it, the echoes of input images in `parameters`
 * are replaced by `null` ({@link dropInputEchoes}); still over it, the job fails with
 * {@link resultTooLargeMessage}. A result is never dropped silently (RunPod loses results over ~20 MB:
 * docs/runpod-protocol.md, "Platform (public queue API) facts").
 */
import type { OutputConfig } from '../../config.js';
import { appendIndex, appendKey, isObject, plural } from '../format.js';
import { HOW_TO_BUCKET, type OutputPlan } from './plan.js';

/** Bytes the runtime adds around an output when it posts it: `{"output":` and `}`. */
export const RESULT_ENVELOPE_BYTES = '{"output":}'.length;

/** The keys of A1111's `parameters` that echo input images. */
const ECHO_KEYS = ['init_images', 'mask', 'latent_mask', 'firstpass_image'] as const;
/** The keys of `parameters` whose nested strings may be images (extension arguments). */
const SCRIPT_KEYS = ['alwayson_scripts', 'script_args'] as const;

/** Shortest string inside script arguments taken for an image. */
const MIN_SCRIPT_IMAGE_CHARS = 256;

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
