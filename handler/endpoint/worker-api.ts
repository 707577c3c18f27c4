/**
 * The worker side of the platform as the emulator serves it (docs/runpod-protocol.md, "Job acquisition
 * (job-take)" to "Heartbeat / ping"): job-take (long-poll, single and batch), job-done (results and progress),
 * job-stream, job-stop (long-poll) and ping. These routes are what the `RUNPOD_WEBHOOK_*` templates of
 * `LocalEndpoint.workerEnv()` point at; they are never API-key checked. Every route first runs the hook of
 * `recorder.ts` (request records, round-trip delay, scripted faults).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Log } from '../log.js';
import { addRoute, clientGone, queryParam, rawBody, resetConnection } from './http.js';
import type { FaultInjector, TakeFaultKind, WorkerRoute } from './faults.js';
import type { Assignment, Job, JobStore, WorkerPostOutcome } from './jobs.js';
import { recordOf, workerApiHook, type WorkerApiRecord } from './recorder.js';
import { describeLimit, HttpError, isObject, OTHER_BODY_LIMIT_BYTES, parseWorkerJson, RUN_BODY_LIMIT_BYTES, RUNSYNC_BODY_LIMIT_BYTES, WORKER_BODY_LIMIT_BYTES } from './request.js';

/** What the worker routes need. */
export interface WorkerApiOptions {
  store: JobStore;
  log: Log;
  /** How long an empty job-take / job-stop is held before 204, ms. */
  takeHoldMs: number;
  /** Counts job-take / job-done requests and injects the scripted and seeded faults, if any. */
  faults: FaultInjector;
  /** Where every worker-API request is recorded; none when undefined. */
  records?: WorkerApiRecord[];
  /** Keep request bodies in {@link records}. */
  recordBodies: boolean;
  /** Delay before each worker-API request is handled, ms. */
  latencyMs: number;
  /** Largest final job-done body of a `/run` job, bytes; default {@link RUN_BODY_LIMIT_BYTES} (RunPod's 10 MB). */
  resultLimitRunBytes?: number;
  /** The same for a `/runsync` job (id `sync-…`); default {@link RUNSYNC_BODY_LIMIT_BYTES} (20 MB). */
  resultLimitSyncBytes?: number;
  /** The status of a refused over-limit job-done; default 400 (what the platform answers, see {@link resultLimitOf}). */
  resultTooLargeStatus?: 400 | 413;
  /** Counters this module keeps, read by `LocalEndpoint.stats()`. */
  counters: WorkerApiCounters;
}

/** What the worker routes count. */
export interface WorkerApiCounters {
  /** Final job-done posts refused (over the job's limit, or a `doneRefusals` fault): nothing was recorded. */
  refusedResults: number;
  /** Ids of the jobs whose recorded final job-done carried `isStream=true` (after job-stream posts). */
  streamFinalJobIds: string[];
  /** Ids of the jobs whose recorded final body had `"stopPod": true` (runpod-python's `refresh_worker`). */
  stopPodJobIds: string[];
}

/**
 * The final job-done body limit of a job: RunPod's payload limit of the route it came from, 10 MB for `/run` and
 * 20 MB for `/runsync` (RunPod docs, serverless/endpoints/operation-reference.mdx), whose ids start with `sync-`.
 * The platform answers a larger result with HTTP 400 (runpod-workers/worker-comfyui#129, a `sync-` job of a
 * 19 MB image; davefojtik/RunPod-Fooocus-API#46), so the emulator does by default.
 */
export function resultLimitOf(jobId: string, o: Pick<WorkerApiOptions, 'resultLimitRunBytes' | 'resultLimitSyncBytes'>): { bytes: number; label: string } {
  return jobId.startsWith('sync-')
    ? { bytes: o.resultLimitSyncBytes ?? RUNSYNC_BODY_LIMIT_BYTES, label: 'a /runsync job' }
    : { bytes: o.resultLimitRunBytes ?? RUN_BODY_LIMIT_BYTES, label: 'a /run job' };
}

/** The body of an injected "garbage" job-take answer: labelled JSON, not JSON. */
export const GARBAGE_TAKE_BODY = '{"id": "injected-fault", "input": {"prompt": <html>502 Bad Gateway</html>';

/**
 * Answers a request with an injected fault: `status500` / `status429` with `{"error": ...}`, `garbage` with a
 * 200 `application/json` body that is not JSON, `reset` by destroying the connection without an answer.
 */
function sendFault(req: FastifyRequest, reply: FastifyReply, kind: TakeFaultKind, what: string): FastifyReply {
  if (kind === 'reset') return resetConnection(req, reply);
  if (kind === 'garbage') return reply.code(200).type('application/json').send(GARBAGE_TAKE_BODY);
  const status = kind === 'status429' ? 429 : 500;
  return reply.code(status).send({ error: `injected fault: ${what} answered ${status}` });
}

/**
 * The job a job-take hands out (docs/runpod-protocol.md, "Job JSON shape (job-take response / handler
 * argument)"): `{id, input}` plus the request's `webhook` and `s3Config` when it
 * had them.
 */
export function takeBody(job: Job): Record<string, unknown> {
  const body: Record<string, unknown> = { id: job.id, input: job.request.input };
  if (job.request.webhook !== undefined) body.webhook = job.request.webhook;
  if (job.request.s3Config !== undefined) body.s3Config = job.request.s3Config;
  return body;
}

/**
 * Parses `batch_size` of job-take-batch (runpod-python `rp_job.py` `_job_get_url`): a positive integer; default 1.
 * @throws HttpError 400 for anything else
 */
export function parseBatchSize(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new HttpError(400, `batch_size must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

interface WorkerParams {
  workerId: string;
  jobId: string;
}

/** Registers the worker routes on `app`. */
export function registerWorkerApi(app: FastifyInstance, o: WorkerApiOptions): void {
  const { store, log } = o;
  const route = (kind: WorkerRoute, label: string, bodyLimit: number) => ({ label, bodyLimit, preHandler: workerApiHook(kind, o) });

  /** Job-take: the next job(s) or, after holding up to `takeHoldMs`, 204. */
  const take = (batch: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const { workerId } = req.params as WorkerParams;
    const max = batch ? parseBatchSize(queryParam(req, 'batch_size')) : 1;
    // An injected fault answers before any job is assigned: the take hands out nothing.
    const fault = o.faults.onTake();
    if (fault !== null) {
      store.seen(workerId);
      log.debug(`Injected fault on job-take of worker ${workerId}: ${fault}.`);
      return sendFault(req, reply, fault, 'job-take');
    }
    const assigned = await new Promise<Assignment[]>((resolve) => {
      const end = store.take({ workerId, max, alive: () => !clientGone(req, reply), deliver: resolve }, o.takeHoldMs);
      reply.raw.once('close', end);
    });
    if (assigned.length === 0) return reply.code(204).send();
    if (clientGone(req, reply)) {
      store.giveBack(assigned);
      return reply.code(204).send();
    }
    // If the answer does not reach the worker, its jobs go back to the head of the queue.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) store.giveBack(assigned);
    });
    const jobs = assigned.map((a) => takeBody(a.job));
    recordOf(req)?.jobIds?.push(...assigned.map((a) => a.job.id));
    return reply
      .code(200)
      .type('application/json')
      .send(JSON.stringify(batch ? jobs : jobs[0]));
  };
  addRoute(app, ['GET'], '/job-take/:workerId', route('take', 'job-take', OTHER_BODY_LIMIT_BYTES), take(false));
  addRoute(app, ['GET'], '/job-take-batch/:workerId', route('take', 'job-take-batch', OTHER_BODY_LIMIT_BYTES), take(true));

  /** Answers a job-done / job-stream outcome: 404 unknown job, else 200 (`{"ignored": why}` when ignored). */
  const answer = (reply: FastifyReply, jobId: string, what: string, outcome: WorkerPostOutcome): FastifyReply => {
    if (outcome.kind === 'unknown') throw new HttpError(404, `job ${jobId} not found`);
    if (outcome.kind === 'ignored') {
      log.debug(`${what} ignored: ${outcome.reason}.`, jobId);
      return reply.code(200).send({ ignored: outcome.reason });
    }
    return reply.code(200).send({});
  };

  /**
   * The body of a job-done / job-stream post: JSON whatever the Content-Type says (docs/runpod-protocol.md, "Body
   * serialisation of results (byte level)"), an object.
   */
  const workerBody = (req: FastifyRequest, what: string): Record<string, unknown> => {
    const body = parseWorkerJson(rawBody(req), `${what} body`);
    if (!isObject(body)) throw new HttpError(400, `${what} body must be a JSON object such as {"output": ...}, got ${JSON.stringify(body).slice(0, 80)}`);
    return body;
  };

  // POST job-done/{workerId}/{jobId}?isStream=…: a final result or a progress update.
  addRoute(app, ['POST'], '/job-done/:workerId/:jobId', route('done', 'job-done', WORKER_BODY_LIMIT_BYTES), async (req, reply) => {
    const { workerId, jobId } = req.params as WorkerParams;
    // An injected fault answers before the body is looked at: nothing is recorded.
    const fault = o.faults.onDone();
    if (fault !== null) {
      store.seen(workerId);
      log.debug(`Injected fault on job-done: ${fault}.`, jobId);
      return sendFault(req, reply, fault, 'job-done');
    }
    const raw = rawBody(req);
    const body = workerBody(req, 'job-done');
    const rec = recordOf(req);
    if (rec) rec.progress = body.status === 'IN_PROGRESS';
    if (body.status !== 'IN_PROGRESS') {
      const limit = resultLimitOf(jobId, o);
      const size = raw?.length ?? 0;
      const refusal = size > limit.bytes ? (o.resultTooLargeStatus ?? 400) : o.faults.onFinalDone();
      if (refusal !== null) {
        store.seen(workerId);
        o.counters.refusedResults++;
        const why = size > limit.bytes ? `job-done body is ${size} bytes; the result of ${limit.label} may be at most ${describeLimit(limit.bytes)}` : `injected refusal of job-done: ${refusal}`;
        log.warn(`Result refused with HTTP ${refusal}: ${why}.`, jobId);
        return reply.code(refusal).send({ error: why });
      }
    }
    const outcome = store.workerDone(jobId, workerId, body);
    if (outcome.kind === 'applied' && body.status !== 'IN_PROGRESS') {
      if (queryParam(req, 'isStream') === 'true') o.counters.streamFinalJobIds.push(jobId);
      if (body.stopPod === true) o.counters.stopPodJobIds.push(jobId);
    }
    return answer(reply, jobId, 'job-done', outcome);
  });

  // POST job-stream/{workerId}/{jobId}: body {"output": chunk}.
  addRoute(app, ['POST'], '/job-stream/:workerId/:jobId', route('stream', 'job-stream', WORKER_BODY_LIMIT_BYTES), async (req, reply) => {
    const { workerId, jobId } = req.params as WorkerParams;
    const body = workerBody(req, 'job-stream');
    return answer(reply, jobId, 'job-stream', store.workerStream(jobId, workerId, 'output' in body ? body.output : null));
  });

  // GET job-stop/{workerId}: {"jobsToStop": [ids]} or, after holding, 204.
  addRoute(app, ['GET'], '/job-stop/:workerId', route('stop', 'job-stop', OTHER_BODY_LIMIT_BYTES), async (req, reply) => {
    const { workerId } = req.params as WorkerParams;
    const ids = await new Promise<string[]>((resolve) => {
      const end = store.takeStops({ workerId, alive: () => !clientGone(req, reply), deliver: resolve }, o.takeHoldMs);
      reply.raw.once('close', end);
    });
    if (ids.length === 0) return reply.code(204).send();
    if (clientGone(req, reply)) {
      store.restoreStops(workerId, ids);
      return reply.code(204).send();
    }
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) store.restoreStops(workerId, ids);
    });
    log.debug(`Stop signals sent to worker ${workerId}: ${ids.join(', ')}.`);
    return reply.code(200).type('application/json').send(JSON.stringify({ jobsToStop: ids }));
  });

  // GET ping/{workerId}[?status=unhealthy] (runpod-python `rp_ping.py`, `rp_fitness.py`): records the worker as seen.
  addRoute(app, ['GET'], '/ping/:workerId', route('ping', 'ping', OTHER_BODY_LIMIT_BYTES), async (req, reply) => {
    store.seen((req.params as WorkerParams).workerId, 'ping', queryParam(req, 'status') === 'unhealthy');
    return reply.code(200).send();
  });
}
