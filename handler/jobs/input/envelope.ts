/**
 * A job's input as the A1111 handler reads it: the `{api: {method, endpoint}, payload}` envelope (or a bare txt2img
 * payload, the official worker's shape), the worker's own per-job options beside it, and which route or request
 * dialect it names. The dialects are passed in (dialects/index.ts `DIALECTS`): they build on the input stage, not
 * the other way round.
 */
import { JobInputError } from '../../errors/index.js';
import { appendKey, showValue } from '../format.js';
import { resolveRoute, ROUTE_PREFIX, type RouteSpec } from './routes.js';

/**
 * Where a job asks its images to go (`"output"`): `base64` in the output, or `s3` (uploaded, presigned URLs). The
 * output stage (output/plan.ts) decides with it; it is defined here, with the option it is read from, so that input/
 * does not import output/.
 */
export type OutputMode = 'base64' | 's3';

/** The values `"output"` may take. */
export const OUTPUT_MODES: readonly OutputMode[] = ['base64', 's3'];

/** The worker's own per-job options, read from the input next to `api`/`payload` (or next to a bare txt2img payload). */
export interface JobOptions {
  /** `"preview": true` — stream A1111's live previews (job-stream), at most one per `PREVIEW_INTERVAL_MS`. */
  preview: boolean;
  /** `"timeout_s": N` — this job's A1111 timeout, seconds, capped by `MAX_JOB_TIMEOUT_S`; undefined = the default. */
  timeoutS: number | undefined;
  /**
   * `"output": "base64" | "s3"` — where the images go: `base64` never uploads, `s3` always does (refused without
   * a bucket); undefined = upload when a bucket (`s3Config` or `BUCKET_*`) is available.
   */
  output: OutputMode | undefined;
  /**
   * `"refresh_worker": true` — this job's result carries `"stopPod": true`, so RunPod replaces the worker after it
   * (runpod-python: a handler output's `refresh_worker` key, rp_job.py `run_job`). Default false.
   */
  refreshWorker: boolean;
}

/** Worker-level keys a job input may carry besides the A1111 payload (issue 5). */
const JOB_OPTION_KEYS = ['preview', 'timeout_s', 'output', 'refresh_worker'];
const ENVELOPE_KEYS = ['api', 'payload', ...JOB_OPTION_KEYS];

/** Reads and checks `preview` / `timeout_s` / `output` / `refresh_worker`; throws JobInputError naming the field. */
function readJobOptions(obj: Record<string, unknown>): JobOptions {
  const preview = Object.hasOwn(obj, 'preview') ? obj.preview : false;
  if (typeof preview !== 'boolean') throw new JobInputError(`input.preview: ${showValue(preview)} is not allowed (must be true or false)`);
  const t = Object.hasOwn(obj, 'timeout_s') ? obj.timeout_s : undefined;
  if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t <= 0)) {
    throw new JobInputError(`input.timeout_s: ${showValue(t)} is not allowed (must be a number of seconds > 0)`);
  }
  const output = Object.hasOwn(obj, 'output') ? obj.output : undefined;
  if (output !== undefined && !OUTPUT_MODES.includes(output as OutputMode)) {
    throw new JobInputError(`input.output: ${showValue(output)} is not allowed (must be "base64" or "s3")`);
  }
  const refresh = Object.hasOwn(obj, 'refresh_worker') ? obj.refresh_worker : false;
  if (typeof refresh !== 'boolean') throw new JobInputError(`input.refresh_worker: ${showValue(refresh)} is not allowed (must be true or false)`);
  return { preview, timeoutS: t, output: output as OutputMode | undefined, refreshWorker: refresh };
}

/** What the envelope needs to know of a request dialect (dialects/dialects.ts `Dialect`). */
export interface DialectEndpoints {
  /** Its name in messages, e.g. `SDCN`. */
  readonly name: string;
  /** The `input.api.endpoint` values it owns, exactly as sent; all take POST. */
  readonly endpoints: readonly string[];
}

/** `SDCN POST /txt2img, /img2img, /interrogate; …` for refusals. */
function dialectEndpointsText(dialects: readonly DialectEndpoints[]): string {
  return dialects.map((d) => `${d.name} POST ${d.endpoints.join(', ')}`).join('; ');
}

/** A job's input as read by {@link parseEnvelope}. */
export interface Envelope<D extends DialectEndpoints = DialectEndpoints> {
  /** The A1111 route (native input); for a dialect, the route is known only after translation. */
  route?: RouteSpec;
  /** The request dialect and its endpoint, when `input.api.endpoint` is one a dialect owns. */
  dialect?: { dialect: D; endpoint: string };
  payload: unknown;
  options: JobOptions;
}

/**
 * Reads the envelope.
 * @param dialects the request dialects, matched by their exact `input.api.endpoint`; none by default
 * @throws JobInputError naming the offending field
 */
export function parseEnvelope<D extends DialectEndpoints>(input: unknown, dialects: readonly D[] = []): Envelope<D> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new JobInputError(
      `input must be a JSON object ({"api": {"method", "endpoint"}, "payload": {...}} or a txt2img payload), got ${input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input}`,
    );
  }
  const obj = input as Record<string, unknown>;
  // Own properties only: nothing is ever read through a prototype.
  const options = readJobOptions(obj);
  if (!Object.hasOwn(obj, 'api')) {
    // The official worker's shape: the input is a txt2img payload (less the worker's own keys, if any).
    const payload = JOB_OPTION_KEYS.some((k) => Object.hasOwn(obj, k))
      ? Object.fromEntries(Object.entries(obj).filter(([k]) => !JOB_OPTION_KEYS.includes(k)))
      : obj;
    return { route: resolveRoute('POST', '/sdapi/v1/txt2img'), payload, options };
  }
  const extra = Object.keys(obj).filter((k) => !ENVELOPE_KEYS.includes(k));
  if (extra.length) {
    throw new JobInputError(`${appendKey('input', extra[0]!)}: unknown field (an input with "api" allows only: ${ENVELOPE_KEYS.join(', ')})`);
  }
  const api = obj.api;
  if (api === null || typeof api !== 'object' || Array.isArray(api)) {
    throw new JobInputError(`input.api must be an object {"method": "GET"|"POST", "endpoint": "/sdapi/v1/..."}, got ${showValue(api)}`);
  }
  const apiObj = api as Record<string, unknown>;
  const unknownApi = Object.keys(apiObj).filter((k) => k !== 'method' && k !== 'endpoint');
  if (unknownApi.length) throw new JobInputError(`${appendKey('input.api', unknownApi[0]!)}: unknown field (allowed: method, endpoint)`);
  const method = Object.hasOwn(apiObj, 'method') ? apiObj.method : undefined;
  const endpoint = Object.hasOwn(apiObj, 'endpoint') ? apiObj.endpoint : undefined;
  const payload = Object.hasOwn(obj, 'payload') ? obj.payload : undefined;
  const dialect = typeof endpoint === 'string' ? dialects.find((d) => d.endpoints.includes(endpoint)) : undefined;
  if (dialect) {
    if (typeof method !== 'string' || method.toUpperCase() !== 'POST') {
      throw new JobInputError(`api.method ${showValue(method)} is not allowed for ${dialect.name} ${String(endpoint)}: it takes "POST"`);
    }
    return { dialect: { dialect, endpoint: endpoint as string }, payload, options };
  }
  try {
    return { route: resolveRoute(method, endpoint), payload, options };
  } catch (e) {
    // An endpoint outside /sdapi/v1/: say which request dialects exist too.
    if (e instanceof JobInputError && dialects.length > 0 && typeof endpoint === 'string' && !endpoint.startsWith(ROUTE_PREFIX) && !endpoint.startsWith(ROUTE_PREFIX.slice(1))) {
      throw new JobInputError(`${e.message}; or a request dialect: ${dialectEndpointsText(dialects)}`);
    }
    throw e;
  }
}

