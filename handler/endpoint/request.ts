/**
 * Request parsing for the local endpoint emulator: HTTP errors with RunPod-style `{"error": "..."}` bodies,
 * body-size limits, and validation of the public `/run` / `/runsync` body and of the `wait` / `ttl` query
 * parameters (docs/runpod-protocol.md, "Platform (public queue API) facts"). Pure functions: nothing here touches
 * the network.
 */

/** An error answered as `{"error": message}` with HTTP `statusCode` (4xx for client mistakes). */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    /** HTTP status to answer with. */
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** One mebibyte in bytes; RunPod's "10 MB" limits are 10 × this. */
export const MB = 1024 * 1024;
/** Largest `/run` request body in bytes (RunPod docs operation-reference.mdx: "Max payload 10 MB"). */
export const RUN_BODY_LIMIT_BYTES = 10 * MB;
/** Largest `/runsync` request body in bytes (RunPod docs operation-reference.mdx: "Max payload 20 MB"). */
export const RUNSYNC_BODY_LIMIT_BYTES = 20 * MB;
/**
 * Largest job-done / job-stream body in bytes. The platform's own limit is not documented; results carrying
 * base64 images can be large, so the emulator accepts far more than any request (brief: at least 64 MB).
 */
export const WORKER_BODY_LIMIT_BYTES = 256 * MB;
/** Largest body of any other route (status, cancel, …), which ignore their bodies. */
export const OTHER_BODY_LIMIT_BYTES = 1 * MB;

/** Default, minimum and maximum of `?wait=` on `/runsync` and `/status-sync`, ms (RunPod's). */
export const WAIT_DEFAULT_MS = 90_000;
export const WAIT_MIN_MS = 1_000;
export const WAIT_MAX_MS = 300_000;

/** Bounds of `policy.executionTimeout`, ms (RunPod docs send-requests.mdx: minimum 5 s, maximum 7 days). */
export const EXECUTION_TIMEOUT_MIN_MS = 5_000;
/** Upper bound of both policy durations: 7 days in ms. */
export const POLICY_MAX_MS = 7 * 24 * 60 * 60 * 1000;
/** Default and minimum of `policy.ttl`, ms (RunPod docs send-requests.mdx: default 24 h, minimum 10 s). */
export const TTL_DEFAULT_MS = 24 * 60 * 60 * 1000;
export const TTL_MIN_MS = 10_000;

/** The execution policy of one job, with defaults applied. */
export interface JobPolicy {
  /** Longest time a job may run once a worker took it, ms. */
  executionTimeoutMs: number;
  /** Total lifespan from submission (queue + run), ms; the job is deleted when it runs out. */
  ttlMs: number;
  /** Accepted and kept; the emulator has no autoscaler, so it changes nothing. */
  lowPriority: boolean;
}

/** A validated `/run` or `/runsync` body. */
export interface RunRequest {
  /** The job input: any JSON value but `null`. */
  input: unknown;
  /** An http(s) URL the final status is POSTed to. */
  webhook?: string;
  /** The same for `webhookV2` (a request field of runpod/js-sdk's `EndpointInputPayload`); both may be given. */
  webhookV2?: string;
  /** Passed through to the worker untouched, in the job-take answer. */
  s3Config?: Record<string, unknown>;
  policy: JobPolicy;
}

/** Formats a byte count as RunPod's limits are written: `10 MB (10485760 bytes)`. */
export function describeLimit(bytes: number): string {
  const mb = bytes / MB;
  return Number.isInteger(mb) ? `${mb} MB (${bytes} bytes)` : `${bytes} bytes`;
}

/**
 * Parses a request body as JSON, whatever its Content-Type (runpod-python labels JSON as form-urlencoded:
 * docs/runpod-protocol.md, "Body serialisation of results (byte level)").
 * @param raw the body bytes (undefined or empty when the request had none)
 * @param what names the body in error messages, e.g. `"/run body"`
 * @param example what a valid body looks like, quoted when the body is empty
 * @throws HttpError 400 when the body is empty or not JSON (the message quotes the parser's complaint)
 */
export function parseJsonBody(raw: Buffer | undefined, what: string, example = '{"input": {...}}'): unknown {
  if (raw === undefined || raw.length === 0) {
    throw new HttpError(400, `${what} is empty; expected JSON such as ${example}`);
  }
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (e) {
    throw new HttpError(400, `${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Replaces the bare tokens `NaN`, `Infinity` and `-Infinity` outside strings with `null`. Python's `json.dumps`
 * writes them for float results, so a Python worker's result would otherwise not parse.
 */
export function nullifyNonFiniteTokens(text: string): string {
  const parts: string[] = [];
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const token = text.startsWith('NaN', i) ? 'NaN' : text.startsWith('Infinity', i) ? 'Infinity' : text.startsWith('-Infinity', i) ? '-Infinity' : '';
    if (token) {
      parts.push(text.slice(last, i), 'null');
      i += token.length - 1;
      last = i + 1;
    }
  }
  parts.push(text.slice(last));
  return parts.join('');
}

/**
 * Parses a job-done / job-stream body: JSON whatever the Content-Type says; Python's non-standard
 * `NaN` / `Infinity` / `-Infinity` tokens are read as `null` (as JavaScript would have written them).
 * @throws HttpError 400 when the body is empty or not JSON even then
 */
export function parseWorkerJson(raw: Buffer | undefined, what: string): unknown {
  try {
    return parseJsonBody(raw, what, '{"output": ...}');
  } catch (e) {
    const text = raw?.toString('utf8') ?? '';
    if (!/NaN|Infinity/.test(text)) throw e;
    try {
      return JSON.parse(nullifyNonFiniteTokens(text)) as unknown;
    } catch {
      throw e;
    }
  }
}

/** True for a JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function policyMs(policy: Record<string, unknown>, key: string, min: number, fallback: number): number {
  const v = policy[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new HttpError(400, `policy.${key} must be an integer number of milliseconds, got ${JSON.stringify(v)}`);
  }
  if (v < min || v > POLICY_MAX_MS) {
    throw new HttpError(400, `policy.${key} must be between ${min} and ${POLICY_MAX_MS} ms (7 days), got ${v}`);
  }
  return v;
}

/**
 * Reads `webhook` or `webhookV2` of a `/run` body: an http(s) URL, or undefined when absent or null.
 * @throws HttpError 400 naming the field for anything else
 */
function webhookUrl(body: Record<string, unknown>, field: 'webhook' | 'webhookV2'): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `"${field}" must be a URL string, got ${JSON.stringify(v)}`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new HttpError(400, `"${field}" is not a valid URL: ${JSON.stringify(v)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HttpError(400, `"${field}" must be an http or https URL, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Validates a `/run` or `/runsync` body: `{input, webhook?, webhookV2?, policy?: {executionTimeout?, ttl?,
 * lowPriority?}, s3Config?}`. Other top-level keys are ignored. `null` for an optional key means "absent".
 * @param body the parsed JSON body
 * @param executionTimeoutDefaultMs `policy.executionTimeout` when the request gives none
 * @throws HttpError 400 naming the offending field: body not an object, `input` missing or null, `webhook` not an
 *   http(s) URL (or `webhookV2`), `policy` not an object, `policy.executionTimeout` outside 5 s–7 days, `policy.ttl` outside
 *   10 s–7 days, `policy.lowPriority` not a boolean, `s3Config` not an object
 */
export function parseRunRequest(body: unknown, executionTimeoutDefaultMs: number): RunRequest {
  if (!isObject(body)) {
    throw new HttpError(400, `request body must be a JSON object such as {"input": {...}}, got ${Array.isArray(body) ? 'an array' : JSON.stringify(body)}`);
  }
  if (!('input' in body)) throw new HttpError(400, 'missing "input": the body must be a JSON object such as {"input": {...}}');
  if (body.input === null) throw new HttpError(400, '"input" must not be null');

  const webhook = webhookUrl(body, 'webhook');
  const webhookV2 = webhookUrl(body, 'webhookV2');

  let s3Config: Record<string, unknown> | undefined;
  if (body.s3Config !== undefined && body.s3Config !== null) {
    if (!isObject(body.s3Config)) {
      throw new HttpError(400, `"s3Config" must be an object {accessId, accessSecret, bucketName, endpointUrl}, got ${JSON.stringify(body.s3Config)}`);
    }
    s3Config = body.s3Config;
  }

  const rawPolicy = body.policy ?? {};
  if (!isObject(rawPolicy)) throw new HttpError(400, `"policy" must be an object {executionTimeout?, ttl?, lowPriority?}, got ${JSON.stringify(rawPolicy)}`);
  const lowPriority = rawPolicy.lowPriority ?? false;
  if (typeof lowPriority !== 'boolean') throw new HttpError(400, `policy.lowPriority must be a boolean, got ${JSON.stringify(lowPriority)}`);
  const policy: JobPolicy = {
    executionTimeoutMs: policyMs(rawPolicy, 'executionTimeout', EXECUTION_TIMEOUT_MIN_MS, executionTimeoutDefaultMs),
    ttlMs: policyMs(rawPolicy, 'ttl', TTL_MIN_MS, TTL_DEFAULT_MS),
    lowPriority,
  };

  const req: RunRequest = { input: body.input, policy };
  if (webhook !== undefined) req.webhook = webhook;
  if (webhookV2 !== undefined) req.webhookV2 = webhookV2;
  if (s3Config !== undefined) req.s3Config = s3Config;
  return req;
}

/** Parses a non-negative number of ms from a query value; undefined when absent or empty. */
function queryMs(raw: string | undefined, name: string, range: string): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new HttpError(400, `${name} must be a number of milliseconds (${range}), got ${JSON.stringify(raw)}`);
  return Math.round(n);
}

/**
 * Parses `?wait=` of `/runsync` and `/status-sync`: default 90000 ms, clamped to 1000–300000 ms.
 * @throws HttpError 400 when the value is not a non-negative number
 */
export function parseWait(raw: string | undefined): number {
  const n = queryMs(raw, 'wait', `${WAIT_MIN_MS}-${WAIT_MAX_MS}`);
  if (n === undefined) return WAIT_DEFAULT_MS;
  return Math.min(WAIT_MAX_MS, Math.max(WAIT_MIN_MS, n));
}

/**
 * Parses `?ttl=` of `/status` (RunPod docs: "`?ttl=6000` sets the TTL to 6 seconds"): ms from now; undefined when
 * absent.
 * @throws HttpError 400 when the value is not a non-negative number
 */
export function parseTtlQuery(raw: string | undefined): number | undefined {
  return queryMs(raw, 'ttl', '>= 0');
}
