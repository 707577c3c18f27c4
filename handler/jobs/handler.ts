/**
 * The A1111 job handler (ARCHITECTURE.md `handler/jobs/`): the `{api: {method, endpoint}, payload}` envelope,
 * the route allow-list, validation against `schemas/`, the A1111 call and the output.
 *
 * Input shapes (issue "The worker"):
 * - `{"api": {"method": "POST", "endpoint": "/sdapi/v1/txt2img"}, "payload": {...}}` — any allow-listed route;
 * - an input **without `api`** is a txt2img payload (the official runpod-workers/worker-a1111 shape).
 *
 * Input checks, in order, each refusing the job with one line and without calling A1111 (issue 4 "Bad input"):
 * 1. `checkInputShape` (guard.ts): size of the input as JSON (`MAX_INPUT_BYTES`), nesting depth, no
 *    `__proto__`/`constructor`/`prototype` keys — before anything else is looked at;
 * 2. `parseEnvelope` and `resolveRoute` (routes.ts): the route allow-list;
 * 3. `validatePayload` (validate.ts): the JSON Schema, the cost caps, the settings allow-list;
 * 4. `checkImages` (images.ts, async: DNS for image URLs): base64, image headers, the URL policy.
 *
 * Output: A1111's JSON body as returned (passed through without re-encoding), or `{error}` — plus
 * `refresh_worker: true` when A1111 is unreachable or its process died — so the runtime posts a FAILED job.
 */
import type { LimitsConfig } from '../config.js';
import type { Log } from '../log.js';
import { A1111Error, type A1111Client } from '../a1111/client.js';
import { jsonSkeleton } from '../a1111/json-skeleton.js';
import { JobInputError } from './errors.js';
import { appendKey, showValue } from './format.js';
import { checkInputShape } from './guard.js';
import { checkImages, type HostLookup } from './images.js';
import { resolveRoute, type RouteSpec } from './routes.js';
import { validatePayload } from './validate.js';

/** The part of the runtime's per-job context this handler uses (structurally RunPod's `HandlerContext`). */
export interface JobContext {
  signal: AbortSignal;
  rawJson(bytes: Buffer): unknown;
}

/** A job as this handler reads it. */
export interface JobLike {
  id: string;
  input: unknown;
}

/** What {@link createA1111Handler} needs. */
export interface A1111HandlerOptions {
  client: A1111Client;
  limits: LimitsConfig;
  log: Log;
  /** Resolves image URL hosts (only with `limits.allowImageUrls`); default the system resolver. Tests inject one. */
  lookup?: HostLookup;
}

const ENVELOPE_KEYS = ['api', 'payload'];

/** Reads the envelope; throws JobInputError naming the offending field. */
export function parseEnvelope(input: unknown): { route: RouteSpec; payload: unknown } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new JobInputError(
      `input must be a JSON object ({"api": {"method", "endpoint"}, "payload": {...}} or a txt2img payload), got ${input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input}`,
    );
  }
  const obj = input as Record<string, unknown>;
  // Own properties only: nothing is ever read through a prototype.
  if (!Object.hasOwn(obj, 'api')) {
    // The official worker's shape: the whole input is a txt2img payload.
    return { route: resolveRoute('POST', '/sdapi/v1/txt2img'), payload: obj };
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
  return { route: resolveRoute(method, endpoint), payload: Object.hasOwn(obj, 'payload') ? obj.payload : undefined };
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
  const { client, limits, log, lookup } = opts;
  return async (job, ctx) => {
    let route: RouteSpec;
    let payload: unknown;
    try {
      checkInputShape(job.input, limits);
      ({ route, payload } = parseEnvelope(job.input));
      validatePayload(route, payload, limits);
      await checkImages(route, payload, limits, { signal: ctx.signal, ...(lookup ? { lookup } : {}) });
    } catch (e) {
      if (e instanceof JobInputError) {
        log.warn(`Job refused: ${e.message}`, job.id);
        return { error: e.message };
      }
      throw e;
    }
    try {
      const res = await client.call(route.method, route.path, route.method === 'POST' ? (payload ?? {}) : undefined, { signal: ctx.signal });
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
      // Pass A1111's bytes through untouched unless the result rules of RunPod would treat the object
      // specially (an `error`/`refresh_worker` key, or `{}`): then the parsed value keeps those rules exact.
      if (isObject(parsed) && Object.keys(parsed).length > 0 && !Object.hasOwn(parsed, 'error') && !Object.hasOwn(parsed, 'refresh_worker')) {
        return ctx.rawJson(res.body);
      }
      // Small or special answers: the exact value (the skeleton may have blanked long strings).
      return JSON.parse(res.body.toString('utf8'));
    } catch (e) {
      if (e instanceof A1111Error) {
        log.error(e.message, job.id);
        return e.kind === 'unreachable' ? { error: e.message, refresh_worker: true } : { error: e.message };
      }
      throw e;
    }
  };
}
