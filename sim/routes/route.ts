/**
 * One route of the simulated server as data: method, path, the FastAPI endpoint name, its handler and the metadata
 * `/openapi.json` shows (body model, query parameters). The route modules of this folder build these; `app.ts`
 * registers each on fastify's router.
 */
import type { SimEnv } from '../env.js';
import { validationError } from '../errors.js';
import { bodyForModel, type RouteCtx, type RouteHandler } from '../http.js';
import type { RequestModel } from '../models.js';
import { pydantic2DictType, pydantic2Missing } from '../pydantic2.js';

/** A boolean query parameter of a GET route. */
export interface QueryParam {
  name: string;
  default: boolean;
  title: string;
  description?: string;
}

/** One route: method, full path, FastAPI endpoint name, handler, body model and query parameters. */
export interface SimRoute {
  method: 'get' | 'post';
  path: string;
  /** the Python endpoint function's name (FastAPI `summary`/`operationId`) */
  name: string;
  handler: RouteHandler;
  /** a request model, or `'dict'` for `req: dict[str, Any]` */
  body?: RequestModel | 'dict';
  query?: QueryParam[];
}

/** A route of A1111's API; a path without a leading `/` is under `/sdapi/v1/`. */
export function apiRoute(method: 'get' | 'post', path: string, name: string, handler: RouteHandler, extra: Partial<SimRoute> = {}): SimRoute {
  return { method, path: path.startsWith('/') ? path : `/sdapi/v1/${path}`, name, handler, ...extra };
}

/** The request body as the flavor's pydantic model parameter sees it. @throws SimHttpError 422 on undecodable JSON */
export function modelBody(env: SimEnv, c: RouteCtx): unknown {
  return bodyForModel(c.body, env.flavor);
}

/**
 * Runs `fn` once A1111's queue lock (`Api.queue_lock`) is free, as its refresh routes do. The lock is released
 * when `fn` returns: a promise `fn` returns is not awaited under the lock.
 */
export async function withQueueLock<T>(env: SimEnv, fn: () => T): Promise<T> {
  const release = await env.lock.acquire();
  try {
    return fn();
  } finally {
    release();
  }
}

/**
 * `req: dict[str, Any]` as FastAPI validates it (pydantic 1 or 2 shape).
 * @throws SimHttpError 422 when the body is missing or not an object
 */
export function dictBody(env: SimEnv, body: unknown): Record<string, unknown> {
  const forge = env.flavor === 'forge';
  if (body === undefined || body === null) {
    throw forge ? pydantic2Missing(['body']) : validationError([{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }]);
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw forge ? pydantic2DictType(body) : validationError([{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }]);
  }
  return body as Record<string, unknown>;
}
