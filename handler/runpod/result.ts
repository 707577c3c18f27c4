/**
 * Result bodies posted to job-done, by the rules of docs/runpod-protocol.md, "Non-generator handler → body" (handler output) and docs/runpod-protocol.md, "Handler exception → body"
 * (handler exception), and their serialisation (docs/runpod-protocol.md, "Body serialisation of results (byte level)").
 */
import type { ResultBody } from './types.js';
import { joinParts } from '../parts.js';

/** Marks already-serialised JSON that the serialiser splices in verbatim (see `HandlerContext.rawJson`). */
export class RawJson {
  /** The JSON text as parts, in order (a large answer as the socket reads it arrived in: never joined). */
  readonly parts: readonly Buffer[];
  constructor(bytes: Buffer | readonly Buffer[]) {
    this.parts = Buffer.isBuffer(bytes) ? [bytes] : bytes;
  }
  /** The JSON text as one buffer: the only part, or the parts joined (a copy). */
  get bytes(): Buffer {
    return joinParts(this.parts);
  }
  /** Lets `JSON.stringify` serialise a RawJson nested anywhere else (slow path: parses the bytes). */
  toJSON(): unknown {
    return JSON.parse(this.bytes.toString('utf8'));
  }
}

/** Python truthiness of a JSON value: `""`, `0`, `false`, `null`, `[]`, `{}` are falsy. */
export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !(v instanceof RawJson)) return Object.keys(v as object).length > 0;
  return true;
}

/** A plain JSON object (Python `dict`): not an array, not null, not a RawJson. */
function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof RawJson) && !Buffer.isBuffer(v);
}

/**
 * Builds the job-done body from a handler's return value (docs/runpod-protocol.md, "Non-generator handler → body"):
 * an object loses its `error` and `refresh_worker` keys; the rest becomes `output` (not unwrapped, and removed
 * when it is `{}`); a truthy `error` becomes the top-level `error`; a truthy `refresh_worker` becomes
 * `"stopPod": true`. Any other value becomes `{"output": value}` (`undefined` → `null`).
 */
export function resultFromOutput(output: unknown): ResultBody {
  if (!isDict(output)) return { output: output === undefined ? null : output };
  const { error, refresh_worker: refresh, ...rest } = output;
  const body: ResultBody = {};
  if (Object.keys(rest).length > 0) body.output = rest;
  if (pyTruthy(error)) body.error = error;
  if (pyTruthy(refresh)) body.stopPod = true;
  return body;
}

/** Identity of the worker, written into error bodies (docs/runpod-protocol.md, "Handler exception → body"). */
export interface WorkerIdentity {
  /** `RUNPOD_POD_HOSTNAME` or `unknown`. */
  hostname: string;
  /** `RUNPOD_POD_ID` or `unknown`. */
  workerId: string;
  /** This runtime's version. */
  version: string;
}

/** JSON text with Python's `json.dumps` defaults: `", "` / `": "` separators and non-ASCII escaped as `\uXXXX`. */
function pythonJsonObject(entries: ReadonlyArray<readonly [string, string]>): string {
  const ascii = (s: string): string =>
    JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `{${entries.map(([k, v]) => `${ascii(k)}: ${ascii(v)}`).join(', ')}}`;
}

/**
 * Builds the job-done body for a handler that threw (docs/runpod-protocol.md, "Handler exception → body"): `{"error": "<JSON string>"}` where the string
 * holds, in this order, `error_type` (`<class 'Name'>`), `error_message`, `error_traceback` (ends in a newline),
 * `hostname`, `worker_id`, `runpod_version`, ASCII-escaped.
 */
export function resultFromError(err: unknown, who: WorkerIdentity): ResultBody {
  const e = err instanceof Error ? err : null;
  const name = e?.name ?? 'Error';
  const message = e ? e.message : String(err);
  let trace = e?.stack ?? `${name}: ${message}`;
  if (!trace.endsWith('\n')) trace += '\n';
  return {
    error: pythonJsonObject([
      ['error_type', `<class '${name}'>`],
      ['error_message', message],
      ['error_traceback', trace],
      ['hostname', who.hostname],
      ['worker_id', who.workerId],
      ['runpod_version', who.version],
    ]),
  };
}

/**
 * Serialises a result body to UTF-8 JSON, as a list of byte chunks to be sent in order (docs/runpod-protocol.md, "Body serialisation of results (byte level)": JSON text,
 * non-ASCII kept as UTF-8). A `RawJson` output is not copied: its parts are chunks, between
 * `{"output":` and the rest. Keys keep the order output, error, stopPod.
 * @throws TypeError when the output cannot be serialised (e.g. a BigInt or a cycle).
 */
export function serializeResultParts(body: ResultBody): Buffer[] {
  if (body.output instanceof RawJson) {
    const tail: string[] = [];
    if (body.error !== undefined) tail.push(`"error":${JSON.stringify(body.error)}`);
    if (body.stopPod) tail.push('"stopPod":true');
    return [Buffer.from('{"output":'), ...body.output.parts, Buffer.from(tail.length ? `,${tail.join(',')}}` : '}')];
  }
  const json = JSON.stringify(body);
  if (json === undefined) throw new TypeError('result is not JSON-serialisable');
  return [Buffer.from(json)];
}

/** {@link serializeResultParts} joined into one buffer. @throws TypeError as there. */
export function serializeResult(body: ResultBody): Buffer {
  const parts = serializeResultParts(body);
  return joinParts(parts);
}

/** One mebibyte; RunPod's "10 MB" / "20 MB" limits are read as MiB here, as the local endpoint does. */
const MIB = 1024 * 1024;
/**
 * RunPod's payload limit of a `/run` job, bytes: "Maximum payload size: 10 MB" (RunPod docs,
 * `serverless/endpoints/operation-reference.mdx` and `send-requests.mdx`, "/run"). The platform refuses larger
 * job-done bodies with HTTP 400 (runpod-workers/worker-comfyui#129, davefojtik/RunPod-Fooocus-API#46).
 */
export const RUN_RESULT_LIMIT_BYTES = 10 * MIB;
/** The same for a `/runsync` job (id `sync-…`), bytes: "Maximum payload size: 20 MB" (same pages, "/runsync"). */
export const SYNC_RESULT_LIMIT_BYTES = 20 * MIB;

/** True for the id of a job submitted through `/runsync`: `sync-<uuid>-u1` (RunPod docs' `/runsync` example). */
export function isSyncJobId(jobId: string): boolean {
  return jobId.startsWith('sync-');
}

/** RunPod's documented result limit for this job: {@link SYNC_RESULT_LIMIT_BYTES} for `sync-…` ids, else {@link RUN_RESULT_LIMIT_BYTES}. */
export function platformResultLimit(jobId: string): { bytes: number; route: '/run' | '/runsync' } {
  return isSyncJobId(jobId) ? { bytes: SYNC_RESULT_LIMIT_BYTES, route: '/runsync' } : { bytes: RUN_RESULT_LIMIT_BYTES, route: '/run' };
}

/** `15.7 MB (15728640 bytes)` (decimal MB, as RunPod writes sizes). */
function sizeText(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB (${bytes} bytes)`;
}

/**
 * The small FAILED body posted once when job-done refused a result with a 4xx (runpod-python drops the result
 * then, `rp_http._transmit` → `raise_for_status`, and the job ends COMPLETED without output or stays
 * IN_PROGRESS: docs/runpod-protocol.md, "Result reporting (job-done)", runpod-python#309). Shape: `{"error": "<one line>"}` plus `"stopPod": true` when the
 * refused body had it. The line names the HTTP status, the refused body's size, RunPod's limit for the job's route
 * and how to get large results (S3: `BUCKET_*` or the request's `s3Config`).
 * @param status the 4xx status job-done answered
 * @param refusedBytes the size of the refused body, bytes
 * @param jobId decides the limit ({@link platformResultLimit})
 * @param stopPod copied from the refused body
 */
export function refusedResultBody(status: number, refusedBytes: number, jobId: string, stopPod: boolean): ResultBody {
  const limit = platformResultLimit(jobId);
  const other = limit.route === '/run' ? `${SYNC_RESULT_LIMIT_BYTES / MIB} MB for /runsync` : `${RUN_RESULT_LIMIT_BYTES / MIB} MB for /run`;
  const error =
    `RunPod refused the job's result (job-done answered HTTP ${status}): the result was ${sizeText(refusedBytes)}; ` +
    `RunPod accepts at most ${limit.bytes / MIB} MB (${limit.bytes} bytes) for a ${limit.route} job (${other}). ` +
    'To get large results, send the images to S3: set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID and BUCKET_SECRET_ACCESS_KEY ' +
    '(and BUCKET_NAME) on the endpoint, or send s3Config {"accessId", "accessSecret", "bucketName", "endpointUrl"} with the request; ' +
    'or ask for fewer or smaller images.';
  return stopPod ? { error, stopPod: true } : { error };
}
