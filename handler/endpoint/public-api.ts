/**
 * The platform's public queue API as the emulator serves it (docs/runpod-protocol.md, "Platform (public queue API)
 * facts"): `/run`, `/runsync`,
 * `/status`, `/status-sync`, `/stream`, `/cancel`, `/retry`, `/purge-queue`, `/health`, each under
 * `/v2/{endpointId}/…` and `/…`. Answers are JSON with HTTP 200 (FAILED jobs included); mistakes are
 * `{"error": "..."}` with 400, 401, 404 or 413. `runpod-sdk` works against it unchanged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Log } from '../log.js';
import { addRoute, queryParam, rawBody, replyClosedSignal } from './http.js';
import { isFinal, type Job, type JobStore } from './jobs.js';
import {
  HttpError,
  OTHER_BODY_LIMIT_BYTES,
  parseJsonBody,
  parseRunRequest,
  parseTtlQuery,
  parseWait,
  RUN_BODY_LIMIT_BYTES,
  RUNSYNC_BODY_LIMIT_BYTES,
} from './request.js';

/** What the public routes need. */
export interface PublicApiOptions {
  store: JobStore;
  log: Log;
  /** When set, every public route requires `Authorization: Bearer <key>` (or the raw key). */
  apiKey?: string;
  /** How long `/stream` holds when there is nothing new, ms. */
  streamHoldMs: number;
  /** `policy.executionTimeout` when a request gives none, ms. */
  executionTimeoutDefaultMs: number;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The API-key check: `authorization: <key>` or `Authorization: Bearer <key>` (RunPod docs
 * serverless/endpoints/send-requests.mdx).
 * Answers 401 `{"error": ...}` when the header is missing or holds another key.
 */
export function apiKeyHook(apiKey: string): onRequestHookHandler {
  const want = digest(apiKey);
  return (req, reply, done) => {
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === '') {
      void reply.code(401).send({ error: 'missing API key: send the header "Authorization: Bearer <RUNPOD_API_KEY>"' });
      return;
    }
    const m = /^bearer\s+(.*)$/i.exec(header.trim());
    const given = (m ? m[1]! : header).trim();
    if (!timingSafeEqual(digest(given), want)) {
      void reply.code(401).send({ error: 'invalid API key in the Authorization header' });
      return;
    }
    done();
  };
}

function jobIdParam(req: FastifyRequest): string {
  return (req.params as { id: string }).id;
}

const notFound = (id: string): HttpError => new HttpError(404, `job ${id} not found`);

/**
 * Waits until the job is final (or deleted), `waitMs` runs out, the client goes away or the store closes.
 */
async function waitForFinal(store: JobStore, job: Job, waitMs: number, signal: AbortSignal): Promise<void> {
  const end = performance.now() + waitMs;
  while (!job.deleted && !isFinal(job.status) && !store.closed && !signal.aborted) {
    const left = end - performance.now();
    if (left <= 0) return;
    await store.change(job, left, signal);
  }
}

/** Registers the public routes on `app`. */
export function registerPublicApi(app: FastifyInstance, o: PublicApiOptions): void {
  const { store } = o;
  const onRequest = o.apiKey !== undefined && o.apiKey !== '' ? apiKeyHook(o.apiKey) : undefined;
  const opts = (label: string, bodyLimit = OTHER_BODY_LIMIT_BYTES) => ({ label, bodyLimit, ...(onRequest ? { onRequest } : {}) });

  // POST /run: queue a job. 10 MB body limit.
  addRoute(app, ['POST'], '/run', opts('/run', RUN_BODY_LIMIT_BYTES), async (req) => {
    const request = parseRunRequest(parseJsonBody(rawBody(req), '/run body'), o.executionTimeoutDefaultMs);
    const job = store.submit([request], false)[0]!;
    // Always IN_QUEUE, as on the platform, even when a held job-take already got the job.
    return { id: job.id, status: 'IN_QUEUE' };
  });

  // POST /runsync?wait=ms: queue a job and wait for it. 20 MB body limit.
  addRoute(app, ['POST'], '/runsync', opts('/runsync', RUNSYNC_BODY_LIMIT_BYTES), async (req, reply) => {
    const waitMs = parseWait(queryParam(req, 'wait'));
    const request = parseRunRequest(parseJsonBody(rawBody(req), '/runsync body'), o.executionTimeoutDefaultMs);
    const job = store.submit([request], true)[0]!;
    await waitForFinal(store, job, waitMs, replyClosedSignal(reply));
    if (job.deleted) throw new HttpError(404, `job ${job.id} expired: its ttl of ${request.policy.ttlMs} ms ran out before it finished`);
    return isFinal(job.status) ? store.statusBody(job) : { id: job.id, status: job.status };
  });

  // GET|POST /status/{id}?ttl=ms.
  addRoute(app, ['GET', 'POST'], '/status/:id', opts('/status'), async (req) => {
    const id = jobIdParam(req);
    const ttl = parseTtlQuery(queryParam(req, 'ttl'));
    const job = store.get(id);
    if (!job) throw notFound(id);
    if (ttl !== undefined) store.shortenRetention(job, ttl);
    return store.statusBody(job);
  });

  // GET|POST /status-sync/{id}?wait=ms: /status that waits for a final state.
  addRoute(app, ['GET', 'POST'], '/status-sync/:id', opts('/status-sync'), async (req, reply) => {
    const id = jobIdParam(req);
    const waitMs = parseWait(queryParam(req, 'wait'));
    const job = store.get(id);
    if (!job) throw notFound(id);
    await waitForFinal(store, job, waitMs, replyClosedSignal(reply));
    if (job.deleted) throw notFound(id);
    return store.statusBody(job);
  });

  // GET|POST /stream/{id}: chunks since the previous call; holds while there is nothing new.
  addRoute(app, ['GET', 'POST'], '/stream/:id', opts('/stream'), async (req, reply) => {
    const id = jobIdParam(req);
    const job = store.get(id);
    if (!job) throw notFound(id);
    const end = performance.now() + o.streamHoldMs;
    const signal = replyClosedSignal(reply);
    while (job.stream.length === 0 && !isFinal(job.status) && !job.deleted && !store.closed && !signal.aborted) {
      const left = end - performance.now();
      if (left <= 0) break;
      await store.change(job, left, signal);
    }
    if (job.deleted) throw notFound(id);
    const body: Record<string, unknown> = { id: job.id, status: job.status, stream: store.drainStream(job).map((output) => ({ output })) };
    if (job.status === 'FAILED') body.error = job.error?.value;
    return body;
  });

  // POST /cancel/{id}.
  addRoute(app, ['POST'], '/cancel/:id', opts('/cancel'), async (req) => {
    const id = jobIdParam(req);
    const job = store.cancel(id);
    if (!job) throw notFound(id);
    return { id: job.id, status: job.status };
  });

  // POST /retry/{id}: FAILED or TIMED_OUT only.
  addRoute(app, ['POST'], '/retry/:id', opts('/retry'), async (req) => {
    const job = store.retry(jobIdParam(req));
    // Like /run: the answer is IN_QUEUE even when a waiting job-take has already picked the job up.
    return { id: job.id, status: 'IN_QUEUE' };
  });

  // POST /purge-queue.
  addRoute(app, ['POST'], '/purge-queue', opts('/purge-queue'), async () => ({ removed: store.purgeQueue(), status: 'completed' }));

  // GET /health.
  addRoute(app, ['GET'], '/health', opts('/health'), async () => store.health());
}

