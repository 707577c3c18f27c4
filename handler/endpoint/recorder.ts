/**
 * What tests and the bench need to see of the worker API, beside the state of the jobs: a record of every
 * worker-API request (what the worker sent, when, and what it was answered), scripted faults answered before the
 * route runs, and a platform round-trip delay. All three act in one fastify `preHandler` of the worker routes.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { FaultInjector, ScriptedAnswer, WorkerRoute } from './faults.js';
import { rawBody, resetConnection } from './http.js';

/** One worker-API request, as `LocalEndpoint.requests()` lists it. */
export interface WorkerApiRecord {
  kind: WorkerRoute;
  /** The worker id of the URL. */
  workerId: string;
  /** job-done / job-stream: the job id of the URL. */
  jobId?: string;
  /** job-take: the ids of the jobs handed out, in order (empty for a 204 or a fault). */
  jobIds?: string[];
  /** job-done: true for a progress update (`"status": "IN_PROGRESS"`), false for a final result; set once parsed. */
  progress?: boolean;
  /** Path and query as received, e.g. `/v2/ep1/job-take-batch/w1?gpu=local&batch_size=2&job_in_progress=0`. */
  url: string;
  /** The query parameters (the first value of a repeated one). */
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The body as UTF-8 text, when the endpoint records bodies (`recordBodies`). */
  raw?: string;
  /** The body's size, bytes (0 without a body). */
  bytes: number;
  /** Epoch ms (sub-ms precision) at which the request, with its whole body, was received. */
  receivedAt: number;
  /** Epoch ms at which the answer was sent (job-take and job-stop: after their hold); unset while pending. */
  answeredAt?: number;
  /** The answer's HTTP status; 0 when the connection closed without one (a reset); unset while pending. */
  status?: number;
}

/** Options of {@link workerApiHook}. */
export interface WorkerApiHookOptions {
  /** Where to record requests; none when undefined. */
  records?: WorkerApiRecord[];
  /** Called once per record when its answer was sent (or its connection closed without one). */
  onAnswered?: (rec: WorkerApiRecord) => void;
  /** Keep request bodies as text in the records. */
  recordBodies: boolean;
  /** Delay before a request is handled, ms (0: none). */
  latencyMs: number;
  faults: FaultInjector;
}

/** Epoch ms with sub-ms precision (the clock of the simulator's request log too). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

const records = new WeakMap<FastifyRequest, WorkerApiRecord>();

/** The record of a request, when requests are recorded. */
export function recordOf(req: FastifyRequest): WorkerApiRecord | undefined {
  return records.get(req);
}

function firstValues(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, string | string[] | undefined>)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = first;
  }
  return out;
}

/** Sends a scripted answer: a reset connection, or the status with its raw body. */
function sendScripted(req: FastifyRequest, reply: FastifyReply, answer: ScriptedAnswer): FastifyReply {
  if (answer === 'reset') return resetConnection(req, reply);
  return reply
    .code(answer.status)
    .type(answer.contentType ?? 'text/plain')
    .send(answer.body ?? '');
}

/**
 * The `preHandler` of the worker routes of `kind`: records the request (its answer is filled in when sent), waits
 * `latencyMs`, then answers a scripted fault of the route, if one is queued, instead of running the route.
 */
export function workerApiHook(kind: WorkerRoute, o: WorkerApiHookOptions): preHandlerAsyncHookHandler {
  return async (req, reply) => {
    if (o.records) {
      const params = req.params as { workerId: string; jobId?: string };
      const body = rawBody(req);
      const rec: WorkerApiRecord = {
        kind,
        workerId: params.workerId,
        ...(params.jobId !== undefined ? { jobId: params.jobId } : {}),
        ...(kind === 'take' ? { jobIds: [] } : {}),
        url: req.url,
        query: firstValues(req.query),
        headers: req.headers,
        ...(o.recordBodies && body ? { raw: body.toString('utf8') } : {}),
        bytes: body?.length ?? 0,
        receivedAt: epochMs(),
      };
      o.records.push(rec);
      records.set(req, rec);
      const answered = (status: number): void => {
        if (rec.status !== undefined) return;
        rec.answeredAt = epochMs();
        rec.status = status;
        o.onAnswered?.(rec);
      };
      reply.raw.once('finish', () => answered(reply.raw.statusCode));
      reply.raw.once('close', () => answered(reply.raw.writableFinished ? reply.raw.statusCode : 0));
    }
    if (o.latencyMs > 0) await sleep(o.latencyMs);
    const answer = o.faults.nextScripted(kind);
    if (answer !== null) return sendScripted(req, reply, answer);
  };
}
