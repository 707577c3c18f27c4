/**
 * The A1111 API simulator: an HTTP server that looks like AUTOMATIC1111 v1.10
 * started with `--api --nowebui` (spec Part 2) to a client that has never
 * seen it, plus test controls (fault injection, request log) under `/sim/`,
 * a prefix A1111 does not use.
 *
 * Built on fastify, but every response is written by this module so that none
 * of fastify's own formats (404/415/400 bodies, headers) leak.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { Catalog, type CatalogInput, type SimFiles } from './catalog.js';
import { SIM_EXTENSIONS, type SimEnv, type SimExtension } from './env.js';
import { SimHttpError, flavorErrorBody, methodNotAllowed, notFound, statusPhrase } from './errors.js';
import { readBody, type BodyInput } from './http.js';
import type { SimFlavor } from './models.js';
import { buildOpenApi } from './openapi.js';
import { extraOptions } from './options.js';
import { PngCache } from './png.js';
import { seededRandom } from './random.js';
import { buildRoutes, type SimRoute } from './routes.js';
import { buildScripts } from './scripts.js';
import { QueueLock, SharedState, nowMs } from './state.js';

export type { SimFiles, SimLora, SimPromptStyle, SimSchedulerInfo } from './catalog.js';
export type { SimExtension } from './env.js';
export type { SimFlavor } from './models.js';

const gzip = promisify(gzipCb);

/** Options of {@link startSimulator}. All times are in milliseconds; the model/sampler/… lists are {@link CatalogInput}'s. */
export interface SimOptions extends CatalogInput {
  /** interface to bind; default `'127.0.0.1'` */
  host?: string;
  /** TCP port; default 3000; 0 = ephemeral (chosen before the start-up delay, so `url` is known at once) */
  port?: number;
  /** the port opens only after this delay (A1111 "not up yet": connection refused), default 0 */
  startupDelayMs?: number;
  /** simulated time per sampling step, default 2 */
  stepMs?: number;
  /**
   * simulated checkpoint load time, default 0. Paid by the first generation
   * (A1111 loads the model lazily here) and again whenever a job needs a
   * checkpoint other than the one loaded (override_settings / POST /options).
   */
  firstLoadDelayMs?: number;
  /** print one line per `/sdapi` request (like `--api-log`) and model-load lines; default false */
  log?: boolean;
  /** gzip JSON bodies ≥ 1000 bytes when the client accepts it (A1111's GZipMiddleware); default true */
  gzip?: boolean;
  /** seeded random faults on `/sdapi/v1/*` requests (soak tests); default none */
  randomFaults?: SimRandomFaults;
  /**
   * the server imitated: `'a1111'` (v1.10.1, default) or `'forge'` (Forge's extra fields and options,
   * `/sdapi/v1/sd-modules` instead of `sd-vae`, ControlNet built in, pydantic-2 validation, Forge error bodies)
   */
  flavor?: SimFlavor;
  /** extensions installed: `controlnet` (Mikubill), `adetailer` (Bing-su), `wildcards` (A1111's); default none */
  extensions?: SimExtension[];
  /**
   * A1111's `--data-dir` (also its cwd): `GET /sdapi/v1/cmd-flags` reports it and images saved by jobs
   * (`save_images: true`, grids, init images) are written under it (`save-images.ts`); default unset = no files
   */
  dataDir?: string;
}

/** Kinds of the random fault mode (see {@link SimFault}): `status` is a 500 with A1111's CUDA OOM body. */
export type SimRandomFaultKind = 'status' | 'close' | 'garbage';

/** The kinds of {@link SimRandomFaultKind}, in draw order. */
export const SIM_RANDOM_FAULT_KINDS: readonly SimRandomFaultKind[] = ['status', 'close', 'garbage'];

/**
 * The seeded random fault mode: each `/sdapi/v1/*` request of `routes` that no injected fault claims is faulted
 * with probability `rate`, with a kind drawn uniformly from `kinds`. The same seed gives the same sequence of
 * decisions for the same sequence of eligible requests.
 */
export interface SimRandomFaults {
  /** probability 0..1 that one eligible request is faulted */
  rate: number;
  /** seed of the generator (an integer) */
  seed: number;
  /** kinds to draw from, equally likely; default all of {@link SIM_RANDOM_FAULT_KINDS} */
  kinds?: SimRandomFaultKind[];
  /** paths after `/sdapi/v1/` that are eligible (e.g. `txt2img`); default every `/sdapi/v1/*` request */
  routes?: string[];
}

/** Fault counters of a simulator (`Simulator.faultStats()`, `GET /sim/state` → `fault_stats`). */
export interface SimFaultStats {
  /** `/sdapi/v1/*` requests received */
  requests: number;
  /** of those, the requests eligible for random faults (all of them when no `routes` filter is set) */
  eligible: number;
  /** injected faults (`injectFault`, `POST /sim/faults`, `--fail-next`) applied */
  injected: number;
  /** random faults applied: by kind, by route (path after `/sdapi/v1/`), and in all */
  random: { total: number; byKind: Record<SimRandomFaultKind, number>; byRoute: Record<string, number> };
}

/** One request as seen by the simulator. */
export interface SimRequestRecord {
  method: string;
  /** URL path without query */
  path: string;
  query: Record<string, string>;
  /** parsed JSON body; the raw text when it is not JSON; `null` when empty */
  body: unknown;
  /** HTTP status sent; 0 while pending or when no response was sent (hang/close faults) */
  status: number;
  /** epoch ms (sub-ms precision): `performance.timeOrigin + performance.now()` */
  receivedAt: number;
  /** epoch ms when the response was handed to the socket (or the socket destroyed); 0 while pending */
  respondedAt: number;
}

/**
 * An injected fault, applied to the next `count` matching `/sdapi/v1/*`
 * requests. `route` is the path after `/sdapi/v1/` (e.g. `txt2img`); absent =
 * any `/sdapi/v1/*` request. Faults are consumed in the order injected.
 *
 * - `status`: answer `status` with `body` (default: A1111's error wrapper)
 * - `hang`: accept the request and never answer (until `close()`)
 * - `close`: destroy the socket without a response (connection reset)
 * - `garbage`: HTTP 200 with a body that is not JSON
 */
export type SimFault =
  | { kind: 'status'; status: number; count: number; route?: string; body?: unknown }
  | { kind: 'hang'; count: number; route?: string }
  | { kind: 'close'; count: number; route?: string }
  | { kind: 'garbage'; count: number; route?: string };

/** A running simulator. */
export interface Simulator {
  /** base URL without trailing slash, e.g. `http://127.0.0.1:3000` */
  url: string;
  port: number;
  /** every non-`/sim/` request, in arrival order (live array; `DELETE /sim/requests` empties it) */
  requests: SimRequestRecord[];
  /** resolves once the port is open (at once unless `startupDelayMs`); rejects if listening fails */
  ready: Promise<void>;
  /**
   * Queues a fault.
   * @throws TypeError when the fault is malformed
   */
  injectFault(f: SimFault): void;
  /** Counters of requests and faults (injected and random). */
  faultStats(): SimFaultStats;
  /**
   * Puts checkpoints, VAEs or LoRAs into the simulated model folders. Like A1111, the simulator lists them only
   * after `POST /sdapi/v1/refresh-checkpoints` / `refresh-vae` / `refresh-loras` ({@link SimFiles}).
   * @throws TypeError when `files` is malformed
   */
  addFiles(files: SimFiles): void;
  /** Stops listening, ends running generations and drops hanging connections. */
  close(): Promise<void>;
}

// ------------------------------------------------------------------ faults

/**
 * Validates a fault description (from `injectFault` or `POST /sim/faults`).
 * @throws TypeError naming the bad field
 */
export function parseFault(x: unknown): SimFault {
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new TypeError('fault must be an object');
  const f = x as Record<string, unknown>;
  const kind = f['kind'];
  if (kind !== 'status' && kind !== 'hang' && kind !== 'close' && kind !== 'garbage') {
    throw new TypeError(`fault.kind must be one of status|hang|close|garbage, got ${JSON.stringify(kind)}`);
  }
  const count = f['count'] ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
    throw new TypeError(`fault.count must be an integer >= 1, got ${JSON.stringify(count)}`);
  }
  let route: string | undefined;
  if (f['route'] !== undefined && f['route'] !== null) {
    if (typeof f['route'] !== 'string' || f['route'] === '') throw new TypeError('fault.route must be a non-empty string');
    route = f['route'].replace(/^\/?(sdapi\/v1\/)?/, '');
  }
  if (kind === 'status') {
    const status = f['status'];
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      throw new TypeError(`fault.status must be an HTTP status 100..599, got ${JSON.stringify(status)}`);
    }
    return { kind, status, count, ...(route ? { route } : {}), ...('body' in f ? { body: f['body'] } : {}) };
  }
  return { kind, count, ...(route ? { route } : {}) };
}

/**
 * Validates a {@link SimFiles} description (from `addFiles` or `POST /sim/files`).
 * @throws TypeError naming the bad field
 */
export function parseFiles(x: unknown): SimFiles {
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new TypeError('files must be an object {models?, vaes?, loras?}');
  const f = x as Record<string, unknown>;
  const out: SimFiles = {};
  for (const key of Object.keys(f)) {
    if (key !== 'models' && key !== 'vaes' && key !== 'loras') throw new TypeError(`files.${key}: unknown field (allowed: models, vaes, loras)`);
    const list = f[key];
    if (!Array.isArray(list)) throw new TypeError(`files.${key} must be an array`);
    list.forEach((item: unknown, i) => {
      const ok =
        (typeof item === 'string' && item !== '') ||
        (key === 'loras' &&
          item !== null &&
          typeof item === 'object' &&
          typeof (item as Record<string, unknown>)['name'] === 'string' &&
          ['string', 'undefined'].includes(typeof (item as Record<string, unknown>)['alias']));
      if (!ok) throw new TypeError(`files.${key}[${i}] must be a non-empty string${key === 'loras' ? ' or {name, alias?}' : ''}`);
    });
  }
  if (f['models']) out.models = [...(f['models'] as string[])];
  if (f['vaes']) out.vaes = [...(f['vaes'] as string[])];
  if (f['loras']) out.loras = [...(f['loras'] as (string | { name: string; alias?: string })[])];
  return out;
}

/**
 * Validates the random fault mode's options.
 * @throws RangeError naming the bad field
 */
export function parseRandomFaults(x: SimRandomFaults): Required<SimRandomFaults> {
  const { rate, seed } = x;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new RangeError(`randomFaults.rate must be a number 0..1, got ${String(rate)}`);
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw new RangeError(`randomFaults.seed must be an integer, got ${String(seed)}`);
  const kinds = x.kinds ?? [...SIM_RANDOM_FAULT_KINDS];
  if (!Array.isArray(kinds) || kinds.length === 0 || kinds.some((k) => !SIM_RANDOM_FAULT_KINDS.includes(k))) {
    throw new RangeError(`randomFaults.kinds must be a non-empty list of ${SIM_RANDOM_FAULT_KINDS.join('|')}, got ${JSON.stringify(x.kinds)}`);
  }
  const routes = (x.routes ?? []).map((r) => String(r).replace(/^\/?(sdapi\/v1\/)?/, ''));
  if (routes.some((r) => r === '')) throw new RangeError('randomFaults.routes must not contain an empty route');
  return { rate, seed, kinds, routes };
}

function defaultFaultBody(status: number): unknown {
  if (status === 500) {
    return {
      error: 'OutOfMemoryError',
      detail: '',
      body: '',
      errors: 'CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB of which 1.12 GiB is free.',
    };
  }
  return { error: 'HTTPException', detail: statusPhrase(status), body: '', errors: '' };
}

function pyDatetime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}

function checkNonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`SimOptions.${name} must be a finite number >= 0, got ${String(v)}`);
  return v;
}

async function reservePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// ------------------------------------------------------------------ server

/**
 * Starts an A1111 API simulator.
 *
 * Resolves once the port is chosen; with `startupDelayMs > 0` that is before
 * the port opens (await `ready` for the open port).
 *
 * @throws RangeError for negative/invalid timing options or a bad port
 * @throws Error when a list option (models, samplers) is empty, or when
 *   listening fails (immediate start only; with a start-up delay `ready` rejects)
 */
export async function startSimulator(opts: SimOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1';
  const requestedPort = opts.port ?? 3000;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new RangeError(`SimOptions.port must be an integer 0..65535, got ${String(opts.port)}`);
  }
  const startupDelayMs = checkNonNegative('startupDelayMs', opts.startupDelayMs, 0);
  const stepMs = checkNonNegative('stepMs', opts.stepMs, 2);
  const firstLoadDelayMs = checkNonNegative('firstLoadDelayMs', opts.firstLoadDelayMs, 0);
  const logOn = opts.log ?? false;
  const gzipOn = opts.gzip ?? true;
  const log = logOn ? (line: string) => process.stdout.write(`${line}\n`) : () => undefined;

  const flavor: SimFlavor = opts.flavor ?? 'a1111';
  if (flavor !== 'a1111' && flavor !== 'forge') throw new RangeError(`SimOptions.flavor must be 'a1111' or 'forge', got ${String(opts.flavor)}`);
  const extensions = new Set<SimExtension>(opts.extensions ?? []);
  for (const x of extensions) if (!SIM_EXTENSIONS.includes(x)) throw new RangeError(`SimOptions.extensions: unknown extension ${String(x)} (allowed: ${SIM_EXTENSIONS.join(', ')})`);
  const catalog = new Catalog(opts);
  const env: SimEnv = {
    catalog,
    state: new SharedState(),
    lock: new QueueLock(),
    cache: new PngCache(64, 256 * 1024 * 1024),
    stepMs,
    modelLoadMs: firstLoadDelayMs,
    log,
    flavor,
    extensions,
    scripts: buildScripts(flavor, extensions),
    ...(opts.dataDir ? { dataDir: resolvePath(opts.dataDir) } : {}),
  };
  Object.assign(catalog.options, extraOptions(flavor, extensions));
  const requests: SimRequestRecord[] = [];
  const faults: { fault: SimFault; remaining: number }[] = [];
  const randomFaults = opts.randomFaults ? parseRandomFaults(opts.randomFaults) : null;
  const rand = randomFaults ? seededRandom(randomFaults.seed) : null;
  const stats: SimFaultStats = { requests: 0, eligible: 0, injected: 0, random: { total: 0, byKind: { status: 0, close: 0, garbage: 0 }, byRoute: {} } };
  const hanging = new Set<Socket>();
  let closed = false;
  let port = requestedPort;

  const injectFault = (f: SimFault): void => {
    const parsed = parseFault(f);
    faults.push({ fault: parsed, remaining: parsed.count });
  };

  /** The fault for one `/sdapi/v1/<route>` request: an injected one first, else maybe a random one. Counts both. */
  const takeFault = (route: string): SimFault | undefined => {
    stats.requests++;
    const i = faults.findIndex((e) => e.fault.route === undefined || e.fault.route === route);
    if (i >= 0) {
      const e = faults[i];
      e.remaining--;
      if (e.remaining <= 0) faults.splice(i, 1);
      stats.injected++;
      return e.fault;
    }
    if (!randomFaults || !rand) return undefined;
    if (randomFaults.routes.length > 0 && !randomFaults.routes.includes(route)) return undefined;
    stats.eligible++;
    const hit = rand() < randomFaults.rate;
    const u = rand(); // drawn either way: every eligible request consumes two draws
    if (!hit) return undefined;
    const kind = randomFaults.kinds[Math.min(randomFaults.kinds.length - 1, Math.floor(u * randomFaults.kinds.length))];
    stats.random.total++;
    stats.random.byKind[kind]++;
    stats.random.byRoute[route] = (stats.random.byRoute[route] ?? 0) + 1;
    return kind === 'status' ? { kind, status: 500, count: 1, route } : { kind, count: 1, route };
  };
  const addFiles = (files: SimFiles): void => catalog.addFiles(parseFiles(files));
  const faultStats = (): SimFaultStats => ({
    ...stats,
    random: { total: stats.random.total, byKind: { ...stats.random.byKind }, byRoute: { ...stats.random.byRoute } },
  });

  // ---------------------------------------------------------------- A1111 routes
  const routes = buildRoutes(env, { port: () => port, host, log: logOn });
  const table = new Map<string, Partial<Record<'get' | 'post', SimRoute>>>();
  for (const r of routes) table.set(r.path, { ...(table.get(r.path) ?? {}), [r.method]: r });
  // FastAPI's own schema route (not listed in `paths`)
  const openapi = buildOpenApi(env.flavor, routes);
  table.set('/openapi.json', { get: { method: 'get', path: '/openapi.json', name: 'openapi', handler: () => openapi } });

  // ---------------------------------------------------------------- responses
  const finish = (rec: SimRequestRecord | null, status: number) => {
    if (!rec) return;
    rec.status = status;
    rec.respondedAt = nowMs();
  };

  const apiLog = (req: IncomingMessage, path: string, status: number, duration: string) => {
    if (!logOn || !path.startsWith('/sdapi')) return;
    const client = req.socket.remoteAddress ?? '0:0.0.0';
    log(`API ${pyDatetime(new Date())} ${status} http/${req.httpVersion} ${req.method ?? 'err'} ${path} ${client} ${duration}`);
  };

  async function send(
    req: IncomingMessage,
    res: ServerResponse,
    rec: SimRequestRecord | null,
    path: string,
    t0: number,
    status: number,
    payload: string | Buffer,
    extraHeaders: Record<string, string> = {},
    contentType = 'application/json',
  ): Promise<void> {
    let body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    const headers: Record<string, string | number> = { server: 'uvicorn', 'content-type': contentType, ...extraHeaders };
    const accepts = String(req.headers['accept-encoding'] ?? '');
    if (gzipOn && body.length >= 1000 && /\bgzip\b/i.test(accepts)) {
      body = await gzip(body, { level: 1 });
      headers['content-encoding'] = 'gzip';
      headers['vary'] = 'Accept-Encoding';
    }
    const duration = String(Math.round((nowMs() - t0) / 1000 * 10000) / 10000);
    headers['x-process-time'] = duration;
    headers['content-length'] = body.length;
    if (res.destroyed || res.writableEnded) {
      finish(rec, 0);
      return;
    }
    res.writeHead(status, headers);
    res.end(body);
    finish(rec, status);
    apiLog(req, path, status, duration);
  }

  const sendJson = (
    req: IncomingMessage,
    res: ServerResponse,
    rec: SimRequestRecord | null,
    path: string,
    t0: number,
    status: number,
    value: unknown,
    headers: Record<string, string> = {},
  ) => send(req, res, rec, path, t0, status, JSON.stringify(value === undefined ? null : value), headers);

  const errorResponse = (e: unknown): { status: number; body: unknown; headers: Record<string, string> } => {
    if (e instanceof SimHttpError) return { status: e.status, body: flavorErrorBody(env.flavor, e.body), headers: e.headers };
    const err = e instanceof Error ? e : new Error(String(e));
    if (logOn) log(`API error: ${err.stack ?? err.message}`);
    return { status: 500, body: flavorErrorBody(env.flavor, { error: err.name || 'Exception', detail: '', body: '', errors: err.message }), headers: {} };
  };

  // ---------------------------------------------------------------- /sim control routes
  async function handleControl(req: IncomingMessage, res: ServerResponse, path: string, query: Record<string, string>, body: BodyInput, t0: number) {
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const reply = (status: number, value: unknown) => sendJson(req, res, null, path, t0, status, value);
    if (path === '/sim/faults') {
      if (method === 'POST') {
        try {
          const value = body.kind === 'json' ? body.value : body.kind === 'none' ? undefined : null;
          injectFault(parseFault(value));
          return reply(200, { ok: true, pending: faults.length });
        } catch (e) {
          return reply(400, { detail: e instanceof Error ? e.message : String(e) });
        }
      }
      if (method === 'GET') return reply(200, { faults: faults.map((e) => ({ ...e.fault, count: e.remaining })) });
      if (method === 'DELETE') {
        const n = faults.length;
        faults.length = 0;
        return reply(200, { cleared: n });
      }
      return reply(405, { detail: 'Method Not Allowed' });
    }
    if (path === '/sim/requests') {
      if (method === 'GET') {
        const since = query['since'] === undefined ? 0 : Number(query['since']);
        if (!Number.isInteger(since) || since < 0) return reply(400, { detail: `since must be an integer >= 0, got ${query['since']}` });
        return reply(200, requests.slice(since));
      }
      if (method === 'DELETE') {
        const n = requests.length;
        requests.length = 0;
        return reply(200, { cleared: n });
      }
      return reply(405, { detail: 'Method Not Allowed' });
    }
    if (path === '/sim/files') {
      if (method !== 'POST') return reply(405, { detail: 'Method Not Allowed' });
      try {
        addFiles(parseFiles(body.kind === 'json' ? body.value : undefined));
        return reply(200, { ok: true, pending: catalog.pendingFiles });
      } catch (e) {
        return reply(400, { detail: e instanceof Error ? e.message : String(e) });
      }
    }
    if (path === '/sim/state' && method === 'GET') {
      return reply(200, {
        queue: env.lock.pending,
        loaded_model: catalog.loadedModelTitle,
        current_model: catalog.currentCheckpoint().item.title,
        state: env.state.dict(),
        pending_faults: faults.length,
        fault_stats: faultStats(),
        cached_images: env.cache.size,
      });
    }
    return reply(404, { detail: 'Not Found' });
  }

  // ---------------------------------------------------------------- dispatcher
  async function dispatch(req: IncomingMessage, res: ServerResponse, rawBody: Buffer | undefined, forceBytes = false): Promise<void> {
    const t0 = nowMs();
    res.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    let path = url.pathname;
    try {
      path = decodeURIComponent(path);
    } catch {
      // keep the raw path, like Starlette does for undecodable sequences
    }
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const ct = req.headers['content-type'];
    const body = forceBytes ? ({ kind: 'bytes', text: rawBody?.toString('utf8') ?? '' } as BodyInput) : readBody(rawBody, ct);
    if (closed) {
      req.socket.destroy();
      return;
    }
    if (path.startsWith('/sim/')) return handleControl(req, res, path, query, body, t0);

    const rec: SimRequestRecord = {
      method: req.method ?? 'GET',
      path,
      query,
      body: body.kind === 'json' ? body.value : body.kind === 'none' ? null : body.text,
      status: 0,
      receivedAt: t0,
      respondedAt: 0,
    };
    requests.push(rec);

    if (path.startsWith('/sdapi/v1/')) {
      const fault = takeFault(path.slice('/sdapi/v1/'.length));
      if (fault) {
        if (logOn) log(`SIM fault ${fault.kind} on ${req.method ?? ''} ${path}`);
        if (fault.kind === 'status') {
          return sendJson(req, res, rec, path, t0, fault.status, 'body' in fault && fault.body !== undefined ? fault.body : flavorErrorBody(env.flavor, defaultFaultBody(fault.status)));
        }
        if (fault.kind === 'garbage') {
          return send(req, res, rec, path, t0, 200, '{"images": ["iVBORw0KGgoAAAANSUhEUgAA\u0000<html><body>Internal Server Error', {}, 'application/json');
        }
        if (fault.kind === 'close') {
          req.socket.destroy();
          finish(rec, 0);
          return;
        }
        hanging.add(req.socket);
        req.socket.once('close', () => hanging.delete(req.socket));
        return;
      }
    }

    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const entry = table.get(path);
    const handler = method === 'GET' ? entry?.get?.handler : method === 'POST' ? entry?.post?.handler : undefined;
    try {
      if (!handler) {
        if (entry) throw methodNotAllowed([...(entry.get ? ['GET'] : []), ...(entry.post ? ['POST'] : [])]);
        const trimmed = path.replace(/\/+$/, '');
        if (trimmed !== path && table.has(trimmed)) {
          // Starlette's redirect_slashes
          return await send(req, res, rec, path, t0, 307, Buffer.alloc(0), { location: `${trimmed}${url.search}` }, 'text/plain; charset=utf-8');
        }
        throw notFound();
      }
      const value = await handler({ query, body });
      return await sendJson(req, res, rec, path, t0, 200, value);
    } catch (e) {
      const r = errorResponse(e);
      return sendJson(req, res, rec, path, t0, r.status, r.body, r.headers);
    }
  }

  // ---------------------------------------------------------------- fastify wiring
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024 * 1024,
    forceCloseConnections: true,
    return503OnClosing: false,
    keepAliveTimeout: 30_000,
    clientErrorHandler: (err: Error, socket: Socket) => {
      if (socket.writable) {
        const msg = 'Invalid HTTP request received.';
        socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: ${msg.length}\r\n\r\n${msg}`);
      } else {
        socket.destroy(err);
      }
    },
    frameworkErrors: (_err: Error, request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      void dispatch(request.raw, reply.raw, undefined);
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req: FastifyRequest, payload: Buffer, done: (err: Error | null, body?: Buffer) => void) => {
    done(null, payload);
  });
  const fastifyHandler = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
    void dispatch(request.raw, reply.raw, raw);
  };
  app.all('*', fastifyHandler);
  app.setNotFoundHandler(fastifyHandler);
  app.setErrorHandler((_err: Error, request: FastifyRequest, reply: FastifyReply) => {
    // e.g. an unparsable Content-Type header: FastAPI would read the body as bytes
    reply.hijack();
    void dispatch(request.raw, reply.raw, Buffer.from('-'), true);
  });

  let listening = false;
  const listen = async () => {
    await app.listen({ port, host });
    listening = true;
    const addr = app.server.address();
    if (addr && typeof addr === 'object') port = addr.port;
  };

  let startTimer: NodeJS.Timeout | null = null;
  let ready: Promise<void>;
  let rejectReady: ((e: Error) => void) | null = null;
  if (startupDelayMs > 0) {
    if (port === 0) port = await reservePort(host);
    ready = new Promise<void>((resolve, reject) => {
      rejectReady = reject;
      startTimer = setTimeout(() => {
        startTimer = null;
        listen().then(resolve, reject);
      }, startupDelayMs);
    });
    ready.catch(() => undefined);
  } else {
    await listen();
    ready = Promise.resolve();
  }

  const urlHost = host.includes(':') ? `[${host}]` : host;
  const sim: Simulator = {
    url: `http://${urlHost}:${port}`,
    port,
    requests,
    ready,
    injectFault,
    faultStats,
    addFiles,
    close: async () => {
      if (closed) return;
      closed = true;
      env.state.closed = true;
      env.state.interrupt();
      if (startTimer) {
        clearTimeout(startTimer);
        startTimer = null;
        rejectReady?.(new Error('simulator closed before it started listening'));
      }
      for (const s of hanging) s.destroy();
      hanging.clear();
      if (listening) await app.close();
    },
  };
  return sim;
}
