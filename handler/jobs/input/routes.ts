/**
 * The allow-list of routes a job may call, and the resolution of a job's `{method, endpoint}`.
 *
 * Routes come from the A1111 v1.10 route table (A1111 `modules/api/api.py`), Forge's
 * (`lllyasviel/stable-diffusion-webui-forge` `modules/api/api.py`: `GET /sdapi/v1/sd-modules`), ControlNet's
 * (`Mikubill/sd-webui-controlnet` `scripts/api.py`, built into Forge as `sd_forge_controlnet`) and ADetailer's
 * (`Bing-su/adetailer` `scripts/!adetailer.py` `on_app_started`). Allowed: routes that read state, generate, refresh
 * lists, and the harmless controls `interrupt`, `skip`, `unload-checkpoint`, `reload-checkpoint`. Refused:
 * `server-kill`/`server-restart`/`server-stop` (end the server every job of the worker needs), `create/*` and
 * `train/*` (write files into the model folders and run for hours past any cost cap), and every route not listed.
 *
 * Resolution is an exact comparison of the endpoint (a leading `/` optional) against the full paths of the table:
 * the endpoint is never normalised, decoded or parsed as a URL, so anything that is not literally one of the
 * allowed paths (percent-encoding, `..`, `//`, query strings, backslashes, whitespace, other case) is refused.
 *
 * Routes only an extension or Forge provides carry {@link RouteSpec.provider}; {@link checkRouteServed} refuses them
 * when the running server's OpenAPI document shows it does not serve them.
 */
import type { ServerModel } from '../../a1111/server-model.js';
import { servesPath } from '../../a1111/server-model.js';
import { JobInputError } from '../../errors/index.js';
import { oneLineJson } from '../format.js';

/**
 * Names of the bundled payload models (`schemas/<name>.json`, the A1111 v1.10.1 model), which say that a route takes
 * a JSON object payload; `controlnet-detect` has no bundled model (its fields come from the server's OpenAPI only).
 */
export type SchemaName =
  | 'txt2img'
  | 'img2img'
  | 'interrogate'
  | 'extra-single-image'
  | 'extra-batch-images'
  | 'png-info'
  | 'options'
  | 'controlnet-detect';

/** HTTP methods a job may use (`api.method`). */
export type HttpMethod = 'GET' | 'POST';

/** Who provides a route that stock A1111 v1.10.1 does not have. */
export type RouteProvider = 'controlnet' | 'adetailer' | 'forge';

/**
 * What a route takes as its payload:
 * - `none`: nothing (GET routes, `refresh-*`, `interrupt`, …): only an absent payload, `null` or `{}` is accepted;
 * - `schema`: a JSON object checked against {@link RouteSpec.schema};
 * - `object`: any JSON object, forwarded as sent (`POST /controlnet/detect`: its `controlnet_input_images` and
 *   `controlnet_masks` are base64 images, checked by the image policy; ControlNet itself answers 422 for an unknown
 *   `controlnet_module`).
 */
export type RouteBody = 'none' | 'schema' | 'object';

/** One allowed route. */
export interface RouteSpec {
  /** The HTTP method the route takes. */
  readonly method: HttpMethod;
  /**
   * The route's short name, as listed in messages: the path after `/sdapi/v1/` for A1111's routes (`txt2img`), the
   * path without its leading `/` for the others (`controlnet/model_list`).
   */
  readonly name: string;
  /** The full path, e.g. `/sdapi/v1/txt2img`, `/controlnet/model_list`. */
  readonly path: string;
  /**
   * The JSON Schema the payload must satisfy (`body: 'schema'`), or `null` when the route takes no payload or any
   * object (`body` says which).
   */
  readonly schema: SchemaName | null;
  /** What the route takes as its payload (see {@link RouteBody}). */
  readonly body: RouteBody;
  /** True for the routes that generate images (`txt2img`, `img2img`): the images-per-job limit applies. */
  readonly generates: boolean;
  /** The extension or fork that provides the route, or null for stock A1111 v1.10.1 routes. */
  readonly provider: RouteProvider | null;
}

/** The prefix A1111's own routes live under. */
export const ROUTE_PREFIX = '/sdapi/v1/';

/** Longest `api.endpoint` looked at; longer values are refused without further inspection. */
export const MAX_ENDPOINT_LENGTH = 200;

/** The prefixes of the allowed paths, for the refusal of an endpoint that starts with none of them. */
const PREFIXES = [ROUTE_PREFIX, '/controlnet/', '/adetailer/v1/'];

interface RouteOptions {
  generates?: boolean;
  provider?: RouteProvider;
  body?: RouteBody;
}

function route(method: HttpMethod, path: string, schema: SchemaName | null, o: RouteOptions = {}): RouteSpec {
  const name = path.startsWith(ROUTE_PREFIX) ? path.slice(ROUTE_PREFIX.length) : path.slice(1);
  const body = o.body ?? (schema === null ? 'none' : 'schema');
  return Object.freeze({ method, name, path, schema, body, generates: o.generates ?? false, provider: o.provider ?? null });
}

const A = (name: string) => ROUTE_PREFIX + name;

/**
 * Every allowed route, POST routes first, in the order they are listed in messages. `options` appears twice: GET
 * reads the settings, POST changes them (see settings.ts).
 *
 * - `POST interrupt`, `POST skip`: stop or skip what A1111 is generating now. A worker's A1111 runs one generation
 *   at a time, for this endpoint's jobs only, so these reach nothing outside the endpoint; to stop one's own job,
 *   RunPod's `POST /cancel/{job_id}` is the way (the worker then interrupts A1111 itself).
 * - `POST unload-checkpoint` / `reload-checkpoint`: move the loaded checkpoint off / back onto the GPU
 *   (`sd_models.unload_model_weights`, `send_model_to_device`); the next generation loads what it needs.
 */
export const ROUTES: readonly RouteSpec[] = Object.freeze([
  route('POST', A('txt2img'), 'txt2img', { generates: true }),
  route('POST', A('img2img'), 'img2img', { generates: true }),
  route('POST', A('interrogate'), 'interrogate'),
  route('POST', A('extra-single-image'), 'extra-single-image'),
  route('POST', A('extra-batch-images'), 'extra-batch-images'),
  route('POST', A('png-info'), 'png-info'),
  route('POST', A('options'), 'options'),
  route('POST', A('refresh-checkpoints'), null),
  route('POST', A('refresh-vae'), null),
  route('POST', A('refresh-loras'), null),
  route('POST', A('refresh-embeddings'), null),
  route('POST', A('interrupt'), null),
  route('POST', A('skip'), null),
  route('POST', A('unload-checkpoint'), null),
  route('POST', A('reload-checkpoint'), null),
  route('POST', '/controlnet/detect', null, { provider: 'controlnet', body: 'object' }),
  route('GET', A('samplers'), null),
  route('GET', A('schedulers'), null),
  route('GET', A('upscalers'), null),
  route('GET', A('latent-upscale-modes'), null),
  route('GET', A('sd-models'), null),
  route('GET', A('sd-vae'), null),
  route('GET', A('loras'), null),
  route('GET', A('embeddings'), null),
  route('GET', A('hypernetworks'), null),
  route('GET', A('face-restorers'), null),
  route('GET', A('realesrgan-models'), null),
  route('GET', A('prompt-styles'), null),
  route('GET', A('options'), null),
  route('GET', A('cmd-flags'), null),
  route('GET', A('memory'), null),
  route('GET', A('progress'), null),
  route('GET', A('scripts'), null),
  route('GET', A('script-info'), null),
  route('GET', A('extensions'), null),
  route('GET', A('sd-modules'), null, { provider: 'forge' }),
  route('GET', '/controlnet/version', null, { provider: 'controlnet' }),
  route('GET', '/controlnet/model_list', null, { provider: 'controlnet' }),
  route('GET', '/controlnet/module_list', null, { provider: 'controlnet' }),
  route('GET', '/controlnet/control_types', null, { provider: 'controlnet' }),
  route('GET', '/controlnet/settings', null, { provider: 'controlnet' }),
  route('GET', '/adetailer/v1/version', null, { provider: 'adetailer' }),
  route('GET', '/adetailer/v1/schema', null, { provider: 'adetailer' }),
  route('GET', '/adetailer/v1/ad_model', null, { provider: 'adetailer' }),
]);

/** path → routes with that path (one per method). A Map, so paths such as `/__proto__` never hit a prototype. */
const BY_PATH: ReadonlyMap<string, readonly RouteSpec[]> = (() => {
  const m = new Map<string, RouteSpec[]>();
  for (const r of ROUTES) {
    const list = m.get(r.path) ?? [];
    list.push(r);
    m.set(r.path, list);
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
 * Resolves a job's `input.api` `{method, endpoint}` to an allowed route.
 *
 * - `method`: `"GET"` or `"POST"`, any case.
 * - `endpoint`: exactly the full path of an allowed route (see {@link ROUTES}), the leading `/` optional:
 *   `/sdapi/v1/txt2img`, `sdapi/v1/txt2img`, `/controlnet/model_list`; at most {@link MAX_ENDPOINT_LENGTH} characters.
 *
 * Whether the running server serves an extension's route is a separate check ({@link checkRouteServed}).
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
  const path = endpoint.startsWith('/') ? endpoint : `/${endpoint}`;
  const candidates = BY_PATH.get(path);
  if (!candidates) {
    const known = PREFIXES.some((p) => path.startsWith(p));
    refuse(endpoint, known ? undefined : `must start with ${PREFIXES.join(', ')}`);
  }
  const found = candidates.find((r) => r.method === upper);
  if (found) return found;
  const takes = candidates.map((r) => r.method).join(' or ');
  throw new JobInputError(
    `api.method ${show(method)} is not allowed for ${candidates[0]!.path}: it takes ${takes} (api.endpoint ${show(endpoint)})`,
  );
}

/** What to install (or run) for a provider's routes, for {@link checkRouteServed}'s message. */
export const PROVIDER_TEXT: Readonly<Record<RouteProvider, string>> = Object.freeze({
  controlnet: 'the ControlNet extension (sd-webui-controlnet) is not installed',
  adetailer: 'the ADetailer extension (adetailer) is not installed',
  forge: 'it is a route of Forge (stable-diffusion-webui-forge), and this server is not Forge',
});

/**
 * Refuses a route that only an extension or Forge provides ({@link RouteSpec.provider}) when the running server does
 * not serve it: `servesPath(model, method, path) === false` (its `GET /openapi.json` lists every route, extensions'
 * included, since FastAPI documents routes added with `app.get`/`app.post`). Lets it through when the server serves
 * it (true) or when that is unknown (undefined: bundled model, no OpenAPI document), and always for stock A1111
 * routes (`provider: null`), whose absence A1111/Forge report themselves.
 *
 * @throws JobInputError e.g. `GET /controlnet/model_list is not served by this A1111: the ControlNet extension
 *   (sd-webui-controlnet) is not installed`
 */
export function checkRouteServed(route: RouteSpec, model: ServerModel): void {
  if (route.provider === null) return;
  if (servesPath(model, route.method, route.path) !== false) return;
  throw new JobInputError(`${route.method} ${route.path} is not served by this A1111: ${PROVIDER_TEXT[route.provider]}`);
}
