/**
 * The allow-list of A1111 routes a job may call, and the resolution of a job's `{method, endpoint}`.
 *
 * Routes come from the A1111 v1.10 route table (A1111 spec §2.5). Only routes that read state, generate,
 * or refresh lists are allowed; `server-kill`/`server-restart`/`server-stop`, `create/*`, `train/*`,
 * `interrupt`/`skip` (the worker drives those itself), `unload-checkpoint`/`reload-checkpoint` and
 * extension routes are not.
 *
 * Resolution is an exact comparison against the table after stripping the `/sdapi/v1/` prefix: the
 * endpoint is never normalised, decoded or parsed as a URL, so anything that is not literally one of
 * the allowed names (percent-encoding, `..`, `//`, query strings, backslashes, whitespace, other case)
 * is refused.
 */
import { JobInputError } from './errors.js';
import { oneLineJson } from './format.js';
import type { SchemaName } from './validate.js';

/** HTTP methods a job may use (`api.method`). */
export type HttpMethod = 'GET' | 'POST';

/** One allowed A1111 route. */
export interface RouteSpec {
  /** The HTTP method the route takes. */
  readonly method: HttpMethod;
  /** The path after `/sdapi/v1/`, e.g. `txt2img`. */
  readonly name: string;
  /** The full A1111 path, e.g. `/sdapi/v1/txt2img`. */
  readonly path: string;
  /**
   * The JSON Schema the payload must satisfy (POST routes with a body), or `null` when the route takes no
   * payload (GET routes and `refresh-*`): then only an absent payload, `null` or `{}` is accepted.
   */
  readonly schema: SchemaName | null;
  /** True for the routes that generate images (`txt2img`, `img2img`): the images-per-job limit applies. */
  readonly generates: boolean;
}

/** The prefix every allowed route lives under. */
export const ROUTE_PREFIX = '/sdapi/v1/';

/** Longest `api.endpoint` looked at; longer values are refused without further inspection. */
export const MAX_ENDPOINT_LENGTH = 200;

function route(method: HttpMethod, name: string, schema: SchemaName | null, generates = false): RouteSpec {
  return Object.freeze({ method, name, path: ROUTE_PREFIX + name, schema, generates });
}

/**
 * Every allowed route (A1111 spec §2.5), POST routes first, in the order they are listed in messages.
 * `options` appears twice: GET reads the settings, POST changes them.
 */
export const ROUTES: readonly RouteSpec[] = Object.freeze([
  route('POST', 'txt2img', 'txt2img', true),
  route('POST', 'img2img', 'img2img', true),
  route('POST', 'interrogate', 'interrogate'),
  route('POST', 'extra-single-image', 'extra-single-image'),
  route('POST', 'extra-batch-images', 'extra-batch-images'),
  route('POST', 'png-info', 'png-info'),
  route('POST', 'options', 'options'),
  route('POST', 'refresh-checkpoints', null),
  route('POST', 'refresh-vae', null),
  route('POST', 'refresh-loras', null),
  route('POST', 'refresh-embeddings', null),
  route('GET', 'samplers', null),
  route('GET', 'schedulers', null),
  route('GET', 'upscalers', null),
  route('GET', 'latent-upscale-modes', null),
  route('GET', 'sd-models', null),
  route('GET', 'sd-vae', null),
  route('GET', 'loras', null),
  route('GET', 'embeddings', null),
  route('GET', 'hypernetworks', null),
  route('GET', 'face-restorers', null),
  route('GET', 'realesrgan-models', null),
  route('GET', 'prompt-styles', null),
  route('GET', 'options', null),
  route('GET', 'cmd-flags', null),
  route('GET', 'memory', null),
  route('GET', 'progress', null),
  route('GET', 'scripts', null),
  route('GET', 'script-info', null),
  route('GET', 'extensions', null),
]);

/** name → routes with that name (one per method). A Map, so names such as `__proto__` never hit a prototype. */
const BY_NAME: ReadonlyMap<string, readonly RouteSpec[]> = (() => {
  const m = new Map<string, RouteSpec[]>();
  for (const r of ROUTES) {
    const list = m.get(r.name) ?? [];
    list.push(r);
    m.set(r.name, list);
  }
  return m;
})();

/** `allowed POST txt2img, img2img, ...; GET samplers, ...` (the tail of every refusal). */
export const ALLOWED_ROUTES_TEXT: string = (['POST', 'GET'] as const)
  .map((method) => `${method} ${ROUTES.filter((r) => r.method === method).map((r) => r.name).join(', ')}`)
  .join('; ');

/** A value for a one-line message: JSON (escapes control characters and U+2028/U+2029), cut at 80 characters. */
function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text = oneLineJson(value) ?? String(value);
  const chars = Array.from(text);
  return chars.length > 80 ? `${chars.slice(0, 80).join('')}… (${chars.length} chars)` : text;
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function refuse(endpoint: unknown, why?: string): never {
  const reason = why ? ` (${why})` : '';
  throw new JobInputError(`api.endpoint ${show(endpoint)} is not allowed${reason}: allowed ${ALLOWED_ROUTES_TEXT}`);
}

/**
 * Resolves a job's `input.api` `{method, endpoint}` to an allowed route (A1111 spec §2.5).
 *
 * - `method`: `"GET"` or `"POST"`, any case.
 * - `endpoint`: `/sdapi/v1/<name>` or `sdapi/v1/<name>`, where `<name>` is exactly one of the allowed
 *   names for that method (see {@link ROUTES}); at most {@link MAX_ENDPOINT_LENGTH} characters.
 *
 * @returns the frozen {@link RouteSpec} from {@link ROUTES}.
 * @throws JobInputError with a one-line message when the method is not GET/POST, when the endpoint is
 *   not a string, too long or not an allowed route (the message names the value and lists every allowed
 *   route), or when the route exists for the other method only (the message says which method it takes).
 */
export function resolveRoute(method: unknown, endpoint: unknown): RouteSpec {
  const upper = typeof method === 'string' ? method.toUpperCase() : undefined;
  if (upper !== 'GET' && upper !== 'POST') {
    throw new JobInputError(`api.method ${show(method)} is not allowed: allowed "GET" or "POST"`);
  }
  if (typeof endpoint !== 'string') {
    refuse(endpoint, `must be a string, got ${kind(endpoint)}`);
  }
  if (endpoint.length > MAX_ENDPOINT_LENGTH) {
    refuse(endpoint, `longer than ${MAX_ENDPOINT_LENGTH} characters`);
  }
  let name: string | undefined;
  if (endpoint.startsWith(ROUTE_PREFIX)) name = endpoint.slice(ROUTE_PREFIX.length);
  else if (endpoint.startsWith(ROUTE_PREFIX.slice(1))) name = endpoint.slice(ROUTE_PREFIX.length - 1);
  const candidates = name === undefined ? undefined : BY_NAME.get(name);
  if (!candidates) {
    refuse(endpoint, name === undefined ? `must start with ${ROUTE_PREFIX}` : undefined);
  }
  const found = candidates.find((r) => r.method === upper);
  if (found) return found;
  const takes = candidates.map((r) => r.method).join(' or ');
  throw new JobInputError(
    `api.method ${show(method)} is not allowed for ${candidates[0]!.path}: it takes ${takes} (api.endpoint ${show(endpoint)})`,
  );
}
