/**
 * A1111's answer made into the job's output (docs/request-model.md): an answer that is not the JSON the route
 * promises fails the job; a dialect's answer is reshaped once into its output; a native answer is passed through as
 * A1111's bytes (or with its images uploaded) by output/output.ts, within the job's result limit.
 */
import { jsonSkeleton } from '../a1111/json-skeleton.js';
import type { A1111Answer } from './call.js';
import type { A1111Request } from './dialects/index.js';
import { isObject } from './format.js';
import type { JobContext } from './job.js';
import { RESULT_ENVELOPE_BYTES, resultTooLargeMessage, shapeDialectOutput, shapeOutput, type OutputPlan, type ShapeContext } from './output/output.js';
import type { JobServices } from './services.js';

/** What {@link outputOf} needs of the job. */
export interface AnswerContext {
  jobId: string;
  job: JobContext;
  /** The job's start time (ms since the epoch), for a dialect's output (OpenAI's `created`). */
  startedAtMs: number;
  /** The job's result limit in bytes and the variable that sets it (output/output.ts `resultLimitFor`). */
  limit: { bytes: number; name: NonNullable<ShapeContext['limitName']> };
}

/**
 * The output of a job whose A1111 call answered 2xx.
 * @returns the output to post: `rawJson` bytes, a parsed value, or `{error}` (FAILED) when the answer is not JSON,
 *   a generation's answer has no `images` list of strings, a dialect's answer is not an object, an upload failed or
 *   the result is over its limit
 * @throws the job signal's reason when the job was stopped during an upload
 */
export async function outputOf(answer: A1111Answer, request: A1111Request, plan: OutputPlan, a: AnswerContext, s: JobServices): Promise<unknown> {
  const { route, translation } = request;
  const where = `A1111 ${answer.status} on ${route.method} ${route.path}`;
  // Only the structure is read (long base64 strings skipped); the bytes themselves are passed through.
  let parsed: unknown;
  try {
    parsed = jsonSkeleton(answer.body);
  } catch {
    return { error: `${where}: answer is not JSON: ${JSON.stringify(answer.body.subarray(0, 80).toString('utf8'))}` };
  }
  if (route.generates) {
    const images = isObject(parsed) ? parsed.images : undefined;
    if (!Array.isArray(images) || images.some((i) => typeof i !== 'string')) return { error: `${where}: answer has no "images" list of base64 strings` };
  }
  const shape: ShapeContext = {
    jobId: a.jobId,
    signal: a.job.signal,
    rawJson: (b) => a.job.rawJson(b),
    uploader: s.uploader,
    maxResultBytes: a.limit.bytes,
    limitName: a.limit.name,
    urlExpiresS: s.output.urlExpiresS,
    log: s.log,
  };
  if (translation) {
    if (!isObject(parsed)) return { error: `${where}: answer is not a JSON object` };
    return await shapeDialectOutput(answer.body, plan, (body, uploaded) => translation.reshape(body, { uploaded, startedAtMs: a.startedAtMs }), shape);
  }
  // A1111's bytes as they are (or with the images uploaded), unless RunPod's result rules would treat the object
  // specially (an `error` or `refresh_worker` key, or `{}`): then the parsed value keeps those rules exact.
  if (isObject(parsed) && Object.keys(parsed).length > 0 && !Object.hasOwn(parsed, 'error') && !Object.hasOwn(parsed, 'refresh_worker')) {
    return await shapeOutput(answer.body, plan, shape);
  }
  // Special answers: the exact value (the skeleton may have blanked long strings), within the result limit.
  const size = answer.body.length + RESULT_ENVELOPE_BYTES;
  if (size > a.limit.bytes) {
    const message = resultTooLargeMessage(size, a.limit.bytes, { bucketAvailable: plan.bucketAvailable }, [], a.limit.name);
    s.log.error(message, a.jobId);
    return { error: message };
  }
  return JSON.parse(answer.body.toString('utf8'));
}
