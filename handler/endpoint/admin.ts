/**
 * sd-proxy-server's admin API on the local endpoint, for development (LlamaEdge/sd-proxy-server;
 * docs/runpod-conventions.md, "The four systems in the seed documents"): register and unregister A1111 backends
 * of the running worker at run time, and list them. Mounted by `startEndpoint` only when it is given a
 * {@link BackendRegistry} (`--rp_serve_api` passes the worker's A1111 pool).
 *
 * | route | body | success (200, `application/json`) |
 * |---|---|---|
 * | `POST /admin/register/image` | the server's URL as plain text (any content type, e.g. `curl -d`) | `{"message":"URL registered successfully","url":"http://localhost:7860/"}` |
 * | `POST /admin/unregister/image` | the same | `{"message":"URL unregistered successfully","url":"http://localhost:7860/"}` |
 * | `POST /admin/servers` | ignored | `{"image":["http://localhost:7860/"]}` (`{"image":[]}` when none) |
 *
 * URLs in answers are WHATWG serialisations (`new URL(x).href`), which like sd-proxy-server's (`http::Uri`'s
 * `Display`, handler.rs:216, main.rs:214) give the root path as `/`: `http://localhost:7860` → `http://localhost:7860/`.
 *
 * Errors of these routes are plain text (`text/plain; charset=utf-8`) in sd-proxy-server's format
 * `"<code> <reason>: <message>"` (src/error.rs:19-54):
 *
 * | case | sd-proxy-server (LlamaEdge/sd-proxy-server@9b58300) | here |
 * |---|---|---|
 * | body not a URL | 500 `500 Internal Server Error: invalid url: <body>` (handler.rs:195-204, 244-253) | **400** `400 Bad Request: invalid url: <body>` (a client mistake, not a server error) |
 * | empty body | the same 500, `…invalid url: ` | 400 `400 Bad Request: invalid url: the body is empty; send the server's URL as plain text, e.g. http://127.0.0.1:7860` |
 * | scheme other than http/https (also `localhost:7860`, which is a URL of scheme `localhost:`) | accepted (any `http::Uri`, even `localhost:7860` or `/x`) | 400 `400 Bad Request: invalid url: <body>: only http:// and https:// URLs are accepted (e.g. http://127.0.0.1:7860)` — **ours** |
 * | credentials (`user:pw@`) | accepted, echoed and listed | 400 `400 Bad Request: invalid url: the URL must not carry credentials (user:password@); set A1111_API_AUTH=user:password for the worker instead` (the URL is not echoed) — **ours** |
 * | query or fragment | accepted; requests then go to `<url>/sdapi/v1/txt2img` (handler.rs:105-110) | 400 `400 Bad Request: invalid url: <body>: a server URL takes no query or fragment` — **ours** |
 * | registering a URL twice | 200, and a second copy is listed and load-balanced (main.rs:125-128, 170-179: no duplicate check) | 200 with the same success body; nothing changes (idempotent: the URL is registered once) |
 * | unregistering an unknown URL | 500 `500 Internal Server Error: Not found available server` (main.rs:195-197, error.rs:81-82; handler.rs:254-260) | **404** `404 Not Found: Not found available server: <url>` |
 * | URL type other than `image` | register: 400, empty body (handler.rs:190-193); unregister: 500 `500 Internal Server Error: invalid url type: <type>` (handler.rs:235-242) | 400 `400 Bad Request: invalid url type: <type>` on both |
 * | a method other than POST | 405, empty body (axum; routes are `post(...)` only, main.rs:76-78) | 405 `405 Method Not Allowed: use POST`, header `Allow: POST` |
 *
 * Also different:
 * - Matching is on the normalised URL (WHATWG parsing: scheme and host lower-cased, default port dropped, trailing
 *   `/` ignored): `http://LOCALHOST:80/` and `http://localhost` are the same server. sd-proxy-server compares
 *   `http::Uri`s (main.rs:192), which ignores host case but not the default port.
 * - Leading and trailing whitespace of the body is ignored (`echo URL | curl --data-binary @-` works);
 *   sd-proxy-server rejects a trailing newline as an invalid URL.
 * - A path prefix is kept (`http://host/a1111` for an A1111 behind a reverse proxy) and answered without its
 *   trailing `/`: `http://host/a1111/` → `http://host/a1111`.
 * - A registered server takes jobs only once it answers (`GET /sdapi/v1/sd-models`, then the warm-up); unregistering
 *   lets its running jobs finish (handler/a1111/pool.ts). sd-proxy-server sends requests to it at once.
 * - Unregistering the last server is allowed, as in sd-proxy-server; jobs then wait in the queue until one is
 *   registered (sd-proxy-server answers them 500 `Not found available server`).
 * - **Auth (ours):** when the endpoint has an API key (`RUNPOD_API_KEY`), these routes need it exactly as the public
 *   API does (`Authorization: Bearer <key>` or the raw key; else 401 `{"error": ...}` from `apiKeyHook` in
 *   public-api.ts): they change where jobs run. sd-proxy-server has no auth.
 * - Answers of the endpoint's own layers stay JSON `{"error": ...}`: 401, 413 (bodies over 64 KiB), 404 for
 *   unknown paths. sd-proxy-server's error answers also carry `Access-Control-Allow-*: *`; these do not.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { RouteConfig } from './http.js';
import { rawBody } from './http.js';
import { apiKeyHook } from './public-api.js';

/**
 * The A1111 backends the admin API manages (the worker's `A1111Pool` in `--rp_serve_api`). URLs are given and
 * taken as the pool stores them: `scheme://host[:port][/path]`, no trailing slash.
 */
export interface BackendRegistry {
  /** Every registered backend, in order (removed ones excluded). */
  list(): readonly string[];
  /**
   * Adds a backend.
   * @returns false when that URL is already registered
   */
  register(url: string): boolean;
  /**
   * Removes a backend.
   * @returns false when that URL is not registered
   */
  unregister(url: string): boolean;
}

/** Options of {@link registerAdminApi}. */
export interface AdminApiOptions {
  registry: BackendRegistry;
  /** The endpoint's API key; when set (non-empty), every admin route requires it (see the module comment). */
  apiKey?: string;
}

/** Largest admin request body, bytes (a URL). */
export const ADMIN_BODY_LIMIT_BYTES = 64 * 1024;

/** How much of a rejected body an error message echoes, characters. */
const ECHO_MAX_CHARS = 200;

/** The URL types sd-proxy-server knows (`UrlType`, main.rs:224-227). */
const URL_TYPES = ['image'] as const;

/** A body parsed by {@link parseServerUrl}. */
export type ParsedServerUrl = { ok: true; url: string } | { ok: false; message: string };

/** `text` cut to {@link ECHO_MAX_CHARS} characters. */
function echo(text: string): string {
  return text.length > ECHO_MAX_CHARS ? `${text.slice(0, ECHO_MAX_CHARS)}…` : text;
}

/**
 * The canonical form of a server URL: WHATWG-parsed, `origin` + path without trailing slashes
 * (`http://LOCALHOST:80/` → `http://localhost`). Undefined when `raw` is not a URL.
 */
function canonical(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

/** How a stored URL appears in answers: its WHATWG serialisation (`http://localhost:7860` → `http://localhost:7860/`). */
export function serialiseServerUrl(stored: string): string {
  try {
    return new URL(stored).href;
  } catch {
    return stored;
  }
}

/**
 * Validates the body of register / unregister: a plain-text `http:` or `https:` URL without credentials, query or
 * fragment (surrounding whitespace ignored).
 * @returns the URL in the registry's form (no trailing slash), or the message of the 400 answer (without its
 *   `400 Bad Request: ` prefix)
 */
export function parseServerUrl(body: string): ParsedServerUrl {
  const text = body.trim();
  if (text === '') return { ok: false, message: "invalid url: the body is empty; send the server's URL as plain text, e.g. http://127.0.0.1:7860" };
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return { ok: false, message: `invalid url: ${echo(text)}` };
  }
  if (u.username !== '' || u.password !== '') {
    return { ok: false, message: 'invalid url: the URL must not carry credentials (user:password@); set A1111_API_AUTH=user:password for the worker instead' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return { ok: false, message: `invalid url: ${echo(text)}: only http:// and https:// URLs are accepted (e.g. http://127.0.0.1:7860)` };
  }
  // `http://h/?` and `http://h/#` have an empty search / hash but still carry the delimiter.
  if (u.search !== '' || u.hash !== '' || /[?#]/.test(text)) {
    return { ok: false, message: `invalid url: ${echo(text)}: a server URL takes no query or fragment` };
  }
  return { ok: true, url: canonical(text)! };
}

/** Sends sd-proxy-server's plain-text error `"<code> <reason>: <message>"` (src/error.rs:19-54). */
function plainError(reply: FastifyReply, code: 400 | 404 | 405, message: string): FastifyReply {
  const reason = code === 400 ? 'Bad Request' : code === 404 ? 'Not Found' : 'Method Not Allowed';
  return reply.code(code).type('text/plain; charset=utf-8').send(`${code} ${reason}: ${message}`);
}

/** The registered URL equal to `url` after normalisation, if any. */
function findRegistered(registry: BackendRegistry, url: string): string | undefined {
  return registry.list().find((u) => (canonical(u) ?? u) === url);
}

/** The body of a register / unregister request as text ('' when there is none). */
function bodyText(req: FastifyRequest): string {
  return rawBody(req)?.toString('utf8') ?? (typeof req.body === 'string' ? req.body : '');
}

/** Registers the admin routes on `app` (see the module comment for shapes, statuses and their sources). */
export function registerAdminApi(app: FastifyInstance, o: AdminApiOptions): void {
  const { registry } = o;
  const onRequest: onRequestHookHandler | undefined = o.apiKey !== undefined && o.apiKey !== '' ? apiKeyHook(o.apiKey) : undefined;
  const route = (url: string, handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void => {
    // Names the route in 413 messages: `/admin/register/{type}`.
    const config: RouteConfig = { label: url.replace('/:type', '/{type}') };
    app.route({ method: 'POST', url, bodyLimit: ADMIN_BODY_LIMIT_BYTES, config, ...(onRequest ? { onRequest } : {}), handler });
    // sd-proxy-server's routes are POST only (axum answers other methods 405).
    app.route({
      method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
      url,
      bodyLimit: ADMIN_BODY_LIMIT_BYTES,
      config,
      handler: async (_req, reply) => plainError(reply.header('allow', 'POST'), 405, 'use POST'),
    });
  };
  /** The `:type` parameter, or undefined after answering 400 for an unknown one. */
  const urlType = (req: FastifyRequest, reply: FastifyReply): string | undefined => {
    const type = (req.params as { type: string }).type;
    if ((URL_TYPES as readonly string[]).includes(type)) return type;
    void plainError(reply, 400, `invalid url type: ${echo(type)}`);
    return undefined;
  };

  // POST /admin/register/{type}: body = the server's URL (sd-proxy-server handler.rs:182-226).
  route('/admin/register/:type', async (req, reply) => {
    if (urlType(req, reply) === undefined) return reply;
    const parsed = parseServerUrl(bodyText(req));
    if (!parsed.ok) return plainError(reply, 400, parsed.message);
    // Already registered (under any spelling of the same URL): answered as a fresh registration, nothing changes.
    const known = findRegistered(registry, parsed.url);
    if (known === undefined) registry.register(parsed.url);
    return { message: 'URL registered successfully', url: serialiseServerUrl(known ?? parsed.url) };
  });

  // POST /admin/unregister/{type}: body = the server's URL (sd-proxy-server handler.rs:228-277).
  route('/admin/unregister/:type', async (req, reply) => {
    if (urlType(req, reply) === undefined) return reply;
    const parsed = parseServerUrl(bodyText(req));
    if (!parsed.ok) return plainError(reply, 400, parsed.message);
    const known = findRegistered(registry, parsed.url);
    if (known === undefined || !registry.unregister(known)) {
      return plainError(reply, 404, `Not found available server: ${serialiseServerUrl(parsed.url)}`);
    }
    return { message: 'URL unregistered successfully', url: serialiseServerUrl(known) };
  });

  // POST /admin/servers: every registered server (sd-proxy-server handler.rs:279-296, main.rs:205-221).
  route('/admin/servers', async () => ({ image: registry.list().map(serialiseServerUrl) }));
}
