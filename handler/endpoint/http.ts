/**
 * HTTP plumbing shared by the emulator's public and worker APIs: every route under both `/v2/{endpointId}/…`
 * and `/…`, raw request bodies read with a per-route byte limit (the body is drained before a 413 so the client
 * always gets the answer), query helpers, and the "client went away" checks used by long-polls.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods, onRequestHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import { describeLimit, HttpError, MB } from './request.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The emulator's name of a route in 413 messages ({@link RouteConfig}). */
    label?: string;
  }
}

/** Route prefixes: the platform's `/v2/{endpointId}` (any id is accepted) and none. */
export const PREFIXES = ['/v2/:endpointId', ''] as const;

/** Per-route settings read by the body reader and the error handler. */
export interface RouteConfig {
  /** How the route is named in a 413 message, e.g. `/run`. */
  label: string;
}

/** Options of {@link addRoute}. */
export interface AddRouteOptions {
  /** Largest accepted body, bytes. */
  bodyLimit: number;
  /** Name used in 413 messages. */
  label: string;
  /** Runs before the body is read (e.g. the API-key check). */
  onRequest?: onRequestHookHandler;
  /** Runs after the body is read, before the handler (e.g. the worker API's records and scripted faults). */
  preHandler?: preHandlerAsyncHookHandler;
}

/** The handler of one route (fastify's, with the reply returned or a value to send). */
export type RouteHandler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Registers `handler` for `methods` at `path` under every prefix of {@link PREFIXES}. */
export function addRoute(app: FastifyInstance, methods: HTTPMethods[], path: string, opts: AddRouteOptions, handler: RouteHandler): void {
  for (const prefix of PREFIXES) {
    const config: RouteConfig = { label: opts.label };
    app.route({
      method: methods,
      url: `${prefix}${path}`,
      bodyLimit: opts.bodyLimit,
      config,
      ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
      ...(opts.preHandler ? { preHandler: opts.preHandler } : {}),
      handler,
    });
  }
}

/** Bodies larger than their route's limit are read (and discarded) up to this many bytes more before the 413. */
const DRAIN_EXTRA_BYTES = 256 * MB;

/**
 * Content-type parser for every content type (fastify's catch-all): the raw body as one Buffer. Over the route's
 * `bodyLimit` it answers 413 `{"error": "request body is N bytes; /run accepts at most 10 MB (10485760 bytes)"}`
 * after draining the rest of the body (so the client is not reset while still sending).
 */
export function readRawBody(request: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: Buffer) => void): void {
  const limit = request.routeOptions.bodyLimit ?? MB;
  const label = (request.routeOptions.config as Partial<RouteConfig> | undefined)?.label ?? request.url;
  const declared = Number(request.headers['content-length']);
  const tooLarge = (n: number, exact: boolean): HttpError =>
    new HttpError(413, `request body is ${exact ? '' : 'more than '}${n} bytes; ${label} accepts at most ${describeLimit(limit)}`);

  let finished = false;
  const finish = (err: Error | null, body?: Buffer): void => {
    if (finished) return;
    finished = true;
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    payload.removeListener('close', onClose);
    done(err, body);
  };
  if (Number.isFinite(declared) && declared > limit + DRAIN_EXTRA_BYTES) {
    finish(tooLarge(declared, true));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  function onData(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > limit) {
      chunks.length = 0;
      if (size > limit + DRAIN_EXTRA_BYTES) {
        finish(tooLarge(Number.isFinite(declared) ? declared : limit + DRAIN_EXTRA_BYTES, Number.isFinite(declared)));
        payload.destroy();
      }
      return;
    }
    chunks.push(buf);
  }
  function onEnd(): void {
    if (size > limit) finish(tooLarge(size, true));
    else finish(null, Buffer.concat(chunks, size));
  }
  function onError(err: Error): void {
    finish(new HttpError(400, `request body could not be read: ${err.message}`));
  }
  function onClose(): void {
    if (!payload.complete) finish(new HttpError(400, 'the client closed the connection before sending the whole body'));
  }
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
  payload.on('close', onClose);
  payload.resume();
}

/** The first value of query parameter `name` (undefined when absent). */
export function queryParam(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, string | string[] | undefined> | undefined)?.[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The request body as read by {@link readRawBody} (undefined for body-less requests). */
export function rawBody(req: FastifyRequest): Buffer | undefined {
  return Buffer.isBuffer(req.body) ? req.body : undefined;
}

/** True when the client can no longer receive this reply (socket closed, or the reply already ended). */
export function clientGone(req: FastifyRequest, reply: FastifyReply): boolean {
  return reply.raw.destroyed || reply.raw.writableEnded || req.raw.socket?.destroyed === true;
}

/** Answers nothing: destroys the request's connection (an injected fault). */
export function resetConnection(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.hijack();
  req.raw.socket.destroy();
  return reply;
}

/** An AbortSignal that aborts when the client goes away (or the reply is done). */
export function replyClosedSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  if (reply.raw.destroyed) ac.abort();
  else reply.raw.once('close', () => ac.abort());
  return ac.signal;
}
