/**
 * The simulator's HTTP server on fastify's router: every route of `routes/` and the test controls of
 * `controls.ts` registered on it, A1111's answers where fastify would answer otherwise (router 404/405,
 * Starlette's trailing-slash redirect, FastAPI's body reading), faults applied before a route runs, and
 * FastAPI's `GZipMiddleware` (`minimum_size=1000`, gzip only, when the client accepts it) through
 * `@fastify/compress`: answers up to 256 KiB are compressed at once and get a `content-length`, as there; larger
 * ones (images) are streamed (chunked) from zlib's thread pool.
 */
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import fastifyCompress from '@fastify/compress';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { registerControls, type ControlDeps } from './controls.js';
import { SimHttpError, flavorErrorBody, methodNotAllowed, notFound } from './errors.js';
import { GARBAGE_BODY, defaultFaultBody, type SimFault } from './faults.js';
import { readBody, sendJson, type BodyInput, type SimRequestRecord } from './http.js';
import type { SimRoute } from './routes/index.js';
import { nowMs } from './state.js';

/** What the server needs from the simulator that owns it. */
export interface AppDeps extends ControlDeps {
  /** every A1111 route, in registration order */
  routes: SimRoute[];
  /** compress answers as A1111's `GZipMiddleware` does */
  gzip: boolean;
  /** print one `API …` line per `/sdapi` answer (A1111's `--api-log`) */
  apiLog: boolean;
  /** true once the simulator is closing: new requests get their socket destroyed */
  isClosed(): boolean;
  /** sockets of requests held by `hang` faults, destroyed on close */
  hanging: Set<Socket>;
}

/** Per-request state, set by the `onRequest` hook. */
interface RequestState {
  t0: number;
  /** the URL path decoded as Starlette does */
  path: string;
  /** the Content-Type the client sent (fastify's own parsing is bypassed, see `onRequest`) */
  contentType: string | undefined;
  rec: SimRequestRecord | null;
  /** `x-process-time` in seconds, set when the answer is sent */
  duration?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    sim: RequestState;
  }
  interface FastifyContextConfig {
    simRoute?: SimRoute;
  }
}

/** Starlette decodes the path (keeping the raw text when it is not valid percent-encoding). */
function decodePath(url: string): string {
  const q = url.indexOf('?');
  const raw = q < 0 ? url : url.slice(0, q);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function queryOf(url: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [k, v] of new URL(url, 'http://sim.invalid').searchParams) query[k] = v;
  return query;
}

function pyDatetime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}

/**
 * Creates the fastify server of one simulator (not listening yet).
 * @throws Error when a plugin fails to register
 */
export async function createApp(deps: AppDeps): Promise<FastifyInstance> {
  const { env, faults, requests } = deps;
  const log = (line: string) => env.log(line);
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024 * 1024,
    forceCloseConnections: true,
    return503OnClosing: false,
    keepAliveTimeout: 30_000,
    // route on the path as Starlette decodes it (`%2F` included); `%` `?` `#` stay escaped for the router
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = decodePath(url).replace(/[%?#]/g, encodeURIComponent);
      return q < 0 ? path : `${path}${url.slice(q)}`;
    },
    clientErrorHandler: (err: Error, socket: Socket) => {
      if (socket.writable) {
        const msg = 'Invalid HTTP request received.';
        socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: ${msg.length}\r\n\r\n${msg}`);
      } else {
        socket.destroy(err);
      }
    },
  });
  app.decorateRequest('sim', null as unknown as RequestState);
  // FastAPI reads every body as bytes and decides by the Content-Type itself (`readBody`); fastify would refuse a
  // Content-Type it cannot parse with its own 415, so it sees none and hands the bytes over.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req: FastifyRequest, payload: Buffer, done: (err: Error | null, body?: Buffer) => void) => done(null, payload));
  const bodyOf = (request: FastifyRequest): BodyInput => readBody(Buffer.isBuffer(request.body) ? request.body : undefined, request.sim.contentType);

  app.addHook('onRequest', async (request, reply) => {
    if (deps.isClosed()) {
      reply.hijack();
      request.raw.socket.destroy();
      return reply;
    }
    const contentType = request.headers['content-type'];
    delete request.raw.headers['content-type'];
    request.sim = { t0: nowMs(), path: decodePath(request.originalUrl), contentType, rec: null };
    return undefined;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const duration = String(Math.round(((nowMs() - request.sim.t0) / 1000) * 10000) / 10000);
    request.sim.duration = duration;
    reply.header('server', 'uvicorn').header('x-process-time', duration);
    const { rec } = request.sim;
    if (rec) {
      rec.status = reply.raw.destroyed || reply.raw.writableEnded ? 0 : reply.statusCode;
      rec.respondedAt = nowMs();
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const { path, duration, rec } = request.sim;
    if (!deps.apiLog || !rec || duration === undefined || !path.startsWith('/sdapi')) return;
    const client = request.raw.socket.remoteAddress ?? '0:0.0.0';
    log(`API ${pyDatetime(new Date())} ${reply.statusCode} http/${request.raw.httpVersion} ${request.method} ${path} ${client} ${duration}`);
  });

  if (deps.gzip) {
    await app.register(fastifyCompress, { encodings: ['gzip'], threshold: 1000, zlibOptions: { level: 1, chunkSize: 256 * 1024 }, syncThreshold: 256 * 1024, globalDecompression: false });
  }
  // `respondedAt` is when the answer is handed to node, compression included (the benchmark subtracts A1111's
  // time): this `onSend` runs after the compressor's; a compressed stream is handed over once read to its end.
  const handedOver = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const { rec } = request.sim;
    if (!rec || rec.status === 0) return payload;
    if (payload instanceof EventEmitter && 'pipe' in payload) payload.once('end', () => (rec.respondedAt = nowMs()));
    else afterEnd(reply.raw, () => (rec.respondedAt = nowMs()));
    return payload;
  };
  app.addHook('onRoute', (route) => {
    route.onSend = [...(route.onSend === undefined ? [] : Array.isArray(route.onSend) ? route.onSend : [route.onSend]), handedOver];
  });

  // Which methods each A1111 path has: a path with other methods answers 405, as Starlette's router does.
  const methods = new Map<string, string[]>();
  for (const r of deps.routes) methods.set(r.path, [...(methods.get(r.path) ?? []), r.method.toUpperCase()]);

  /** A request no fault claimed and no route matched: Starlette's 405, its `redirect_slashes` 307, or 404. */
  const routeMiss = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const { path } = request.sim;
    const allowed = methods.get(path);
    if (allowed) throw methodNotAllowed(['GET', 'POST'].filter((m) => allowed.includes(m)));
    const trimmed = path.replace(/\/+$/, '');
    if (trimmed === path || !methods.has(trimmed)) throw notFound();
    const q = request.originalUrl.indexOf('?');
    const location = `${trimmed}${q < 0 ? '' : request.originalUrl.slice(q)}`;
    return reply.code(307).headers({ 'content-type': 'text/plain; charset=utf-8', location }).send(Buffer.alloc(0));
  };

  const applyFault = (request: FastifyRequest, reply: FastifyReply, fault: SimFault): FastifyReply | undefined => {
    if (deps.apiLog) log(`SIM fault ${fault.kind} on ${request.method} ${request.sim.path}`);
    if (fault.kind === 'status') return sendJson(reply, fault.status, fault.body !== undefined ? fault.body : defaultFaultBody(env.flavor, fault.status));
    if (fault.kind === 'garbage') return reply.code(200).header('content-type', 'application/json').send(Buffer.from(GARBAGE_BODY, 'utf8'));
    reply.hijack();
    const socket = request.raw.socket;
    if (fault.kind === 'close') {
      socket.destroy();
      if (request.sim.rec) request.sim.rec.respondedAt = nowMs();
      return undefined;
    }
    deps.hanging.add(socket);
    socket.once('close', () => deps.hanging.delete(socket));
    return undefined;
  };

  /** Every A1111 request: recorded, maybe faulted, then answered by its route (or the router's miss). */
  const serve = async (request: FastifyRequest, reply: FastifyReply, body: BodyInput): Promise<unknown> => {
    const { path, t0 } = request.sim;
    const query = queryOf(request.originalUrl);
    const rec: SimRequestRecord = {
      method: request.method,
      path,
      query,
      body: body.kind === 'json' ? body.value : body.kind === 'none' ? null : body.text,
      status: 0,
      receivedAt: t0,
      respondedAt: 0,
    };
    requests.push(rec);
    request.sim.rec = rec;
    const fault = path.startsWith('/sdapi/v1/') ? faults.take(path.slice('/sdapi/v1/'.length)) : undefined;
    if (fault) return applyFault(request, reply, fault);
    const route = request.routeOptions.config.simRoute;
    if (!route) return routeMiss(request, reply);
    return sendJson(reply, 200, await route.handler({ query, body }));
  };

  for (const r of deps.routes) {
    app.route({ method: r.method.toUpperCase() as 'GET' | 'POST', url: r.path, config: { simRoute: r }, handler: (request, reply) => serve(request, reply, bodyOf(request)) });
  }
  registerControls(app, deps, bodyOf);
  app.setNotFoundHandler((request, reply) => {
    if (!request.sim.path.startsWith('/sim/')) return serve(request, reply, bodyOf(request));
    const known = ['/sim/faults', '/sim/requests', '/sim/files'].includes(request.sim.path);
    return sendJson(reply, known ? 405 : 404, { detail: known ? 'Method Not Allowed' : 'Not Found' });
  });
  app.setErrorHandler((err: Error, request, reply) => {
    if (err instanceof SimHttpError) return sendJson(reply, err.status, flavorErrorBody(env.flavor, err.body), err.headers);
    if (deps.apiLog) log(`API error: ${err.stack ?? err.message}`);
    const wrapper = { error: err.name || 'Exception', detail: '', body: '', errors: err.message };
    return sendJson(reply, 500, flavorErrorBody(env.flavor, wrapper));
  });
  return app;
}

/**
 * Calls `then` right after the answer's `end()` returned: the body is then handed to the socket (written, or
 * queued when the socket is full), as A1111's time ends when uvicorn has written the answer. Fastify writes after
 * the `onSend` hooks, so a time taken in them would leave that write out of A1111's time.
 */
function afterEnd(res: ServerResponse, then: () => void): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const r = end(...args);
    then();
    return r;
  }) as ServerResponse['end'];
}
