/**
 * A small loopback server speaking RunPod's **worker** protocol (job-take, job-done, job-stream, job-stop, ping;
 * protocol spec §4–§9), for tests and the benchmark until the full endpoint emulator (`handler/endpoint/`) exists.
 * It records everything the worker sends, can queue jobs and can inject platform faults.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { performance } from 'node:perf_hooks';

/** One request the worker made. */
export interface PlatformRecord {
  kind: 'take' | 'done' | 'stream' | 'ping' | 'stop';
  workerId: string;
  jobId?: string;
  url: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Raw body text (job-done / job-stream). */
  raw?: string;
  /** `raw` parsed as JSON (undefined when not JSON). */
  body?: unknown;
  /** Body size in bytes (job-done / job-stream). */
  bytes?: number;
  /** Epoch ms, sub-ms precision. */
  at: number;
  status: number;
}

/** A fault for the next matching requests. */
export type PlatformFault =
  | { on: 'take' | 'done' | 'ping'; kind: 'status'; status: number; count: number; body?: string; contentType?: string }
  | { on: 'take' | 'done' | 'ping'; kind: 'reset'; count: number };

/** The running platform. */
export interface Platform {
  url: string;
  records: PlatformRecord[];
  /** Queue a job (handed out by the next job-take). Returns the job. */
  enqueue(job: { id: string; input: unknown; [k: string]: unknown }): void;
  /** A raw job-take answer for the next take (status, body, content type). */
  enqueueRaw(answer: { status: number; body: string; contentType?: string }): void;
  fault(f: PlatformFault): void;
  /** Sends a job id on the next job-stop answer (a cancel or a timeout on the platform, spec §8). */
  stopJob(jobId: string): void;
  /** Final (non-IN_PROGRESS) job-done records, in arrival order. */
  results(): PlatformRecord[];
  /** Waits for the final result of a job. */
  waitForResult(jobId: string, timeoutMs?: number): Promise<PlatformRecord>;
  /** The `RUNPOD_*` env vars that point a worker at this platform (like RunPod injects, spec §2). */
  env(workerId: string, extra?: Record<string, string>): Record<string, string>;
  /** Epoch ms when each job was handed out (job id → time). */
  handedOut: Map<string, number>;
  /** Job-takes received and not answered yet (held in the long-poll); a take is recorded only when answered. */
  takesInFlight(): number;
  close(): Promise<void>;
}

/** Options of {@link startPlatform}. */
export interface PlatformOptions {
  /** How long an empty job-take is held before 204 (long-poll), ms. Default 300. */
  holdMs?: number;
  /** Keep raw bodies of results (set false in benchmarks to save memory). Default true. */
  keepBodies?: boolean;
}

const now = (): number => performance.timeOrigin + performance.now();

/** Starts the loopback platform on an ephemeral port. */
export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  const holdMs = opts.holdMs ?? 300;
  const keepBodies = opts.keepBodies ?? true;
  const app: FastifyInstance = Fastify({ bodyLimit: 512 * 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const records: PlatformRecord[] = [];
  const queue: Array<{ status: number; body: string; contentType?: string; jobId?: string }> = [];
  const faults: PlatformFault[] = [];
  const waiters: Array<() => void> = [];
  const resultWaiters = new Map<string, Array<(r: PlatformRecord) => void>>();
  const handedOut = new Map<string, number>();
  const toStop: string[] = [];
  const stopWaiters: Array<() => void> = [];
  let takesInFlight = 0;

  const takeFault = (on: PlatformFault['on']): PlatformFault | undefined => {
    const i = faults.findIndex((f) => f.on === on);
    if (i < 0) return undefined;
    const f = faults[i]!;
    f.count--;
    if (f.count <= 0) faults.splice(i, 1);
    return f;
  };
  const record = (r: Omit<PlatformRecord, 'at'>): PlatformRecord => {
    const rec = { ...r, at: now() };
    records.push(rec);
    return rec;
  };
  const q = (query: unknown): Record<string, string> => ({ ...(query as Record<string, string>) });
  /** Applies the next fault for `on`, if any: records the request and answers (or resets). True when it did. */
  const applyFault = (on: PlatformFault['on'], base: Omit<PlatformRecord, 'at' | 'status'>, req: FastifyRequest, reply: FastifyReply): boolean => {
    const f = takeFault(on);
    if (!f) return false;
    if (f.kind === 'reset') {
      record({ ...base, status: 0 });
      req.raw.socket.destroy();
      return true;
    }
    record({ ...base, status: f.status });
    void reply.code(f.status).type(f.contentType ?? 'text/plain').send(f.body ?? '');
    return true;
  };

  const take = (batch: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const { wid } = req.params as { wid: string };
    const base = { kind: 'take' as const, workerId: wid, url: req.url, query: q(req.query), headers: req.headers };
    if (applyFault('take', base, req, reply)) return reply;
    if (queue.length === 0) {
      takesInFlight++;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, holdMs);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      takesInFlight--;
    }
    const next = queue.shift();
    if (!next) {
      record({ ...base, status: 204 });
      return reply.code(204).send();
    }
    if (batch && next.jobId) {
      // job-take-batch (spec §4.1): up to batch_size queued jobs as a JSON array.
      const max = Math.max(1, Number((req.query as Record<string, string>).batch_size) || 1);
      const taken = [next];
      while (taken.length < max && queue[0]?.jobId) taken.push(queue.shift()!);
      for (const t of taken) handedOut.set(t.jobId!, now());
      record({ ...base, status: 200, jobId: taken.map((t) => t.jobId).join(',') });
      return reply.code(200).type('application/json').send(`[${taken.map((t) => t.body).join(',')}]`);
    }
    if (next.jobId) handedOut.set(next.jobId, now());
    record({ ...base, status: next.status, jobId: next.jobId });
    return reply.code(next.status).type(next.contentType ?? 'application/json').send(next.body);
  };
  app.get('/v2/:ep/job-take/:wid', take(false));
  app.get('/v2/:ep/job-take-batch/:wid', take(true));

  const onPost = (kind: 'done' | 'stream') => async (req: FastifyRequest, reply: FastifyReply) => {
    const { wid, jobId } = req.params as { wid: string; jobId: string };
    const raw = keepBodies && Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    let body: unknown;
    try {
      body = keepBodies ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    if (!keepBodies && Buffer.isBuffer(req.body)) {
      // Benchmarks: only the final/progress distinction is needed; read it from the body's head.
      const head = req.body.subarray(0, 40).toString('utf8');
      if (head.startsWith('{"status":"IN_PROGRESS"')) body = { status: 'IN_PROGRESS' };
    }
    const bytes = Buffer.isBuffer(req.body) ? req.body.length : 0;
    const base = { kind, workerId: wid, jobId, url: req.url, query: q(req.query), headers: req.headers, raw: keepBodies ? raw : undefined, body, bytes };
    if (kind === 'done' && applyFault('done', base, req, reply)) return reply;
    const rec = record({ ...base, status: 200 });
    const isProgress = (body as { status?: string } | undefined)?.status === 'IN_PROGRESS';
    if (kind === 'done' && !isProgress) {
      for (const w of resultWaiters.get(jobId) ?? []) w(rec);
      resultWaiters.delete(jobId);
    }
    return reply.code(200).send('');
  };
  app.post('/v2/:ep/job-done/:wid/:jobId', onPost('done'));
  app.post('/v2/:ep/job-stream/:wid/:jobId', onPost('stream'));

  app.get('/v2/:ep/job-stop/:wid', async (req, reply) => {
    const { wid } = req.params as { wid: string };
    if (toStop.length === 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, holdMs);
        stopWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const ids = toStop.splice(0);
    const status = ids.length ? 200 : 204;
    record({ kind: 'stop', workerId: wid, url: req.url, query: q(req.query), headers: req.headers, status });
    return ids.length ? reply.code(200).type('application/json').send(JSON.stringify({ jobsToStop: ids })) : reply.code(204).send();
  });

  app.get('/v2/:ep/ping/:wid', async (req, reply) => {
    const { wid } = req.params as { wid: string };
    const base = { kind: 'ping' as const, workerId: wid, url: req.url, query: q(req.query), headers: req.headers };
    if (applyFault('ping', base, req, reply)) return reply;
    record({ ...base, status: 200 });
    return reply.code(200).send('');
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const wake = (): void => {
    while (waiters.length) waiters.shift()!();
  };

  const finals = (): PlatformRecord[] =>
    records.filter((r) => r.kind === 'done' && r.status === 200 && (r.body as { status?: string } | undefined)?.status !== 'IN_PROGRESS');

  return {
    url,
    records,
    handedOut,
    takesInFlight: () => takesInFlight,
    enqueue(job) {
      queue.push({ status: 200, body: JSON.stringify(job), jobId: job.id });
      wake();
    },
    enqueueRaw(answer) {
      queue.push(answer);
      wake();
    },
    fault(f) {
      faults.push({ ...f });
    },
    stopJob(jobId) {
      toStop.push(jobId);
      while (stopWaiters.length) stopWaiters.shift()!();
    },
    results: finals,
    waitForResult(jobId, timeoutMs = 30_000) {
      const existing = finals().find((r) => r.jobId === jobId);
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no result for job ${jobId} within ${timeoutMs} ms`)), timeoutMs);
        const list = resultWaiters.get(jobId) ?? [];
        list.push((r) => {
          clearTimeout(t);
          resolve(r);
        });
        resultWaiters.set(jobId, list);
      });
    },
    env(workerId, extra = {}) {
      return {
        RUNPOD_POD_ID: workerId,
        RUNPOD_AI_API_KEY: 'test-key',
        RUNPOD_WEBHOOK_GET_JOB: `${url}/v2/ep1/job-take/$ID?gpu=NVIDIA+H200`,
        RUNPOD_WEBHOOK_POST_OUTPUT: `${url}/v2/ep1/job-done/$RUNPOD_POD_ID/$ID?gpu=NVIDIA+H200`,
        RUNPOD_WEBHOOK_POST_STREAM: `${url}/v2/ep1/job-stream/$RUNPOD_POD_ID/$ID?gpu=NVIDIA+H200`,
        RUNPOD_WEBHOOK_PING: `${url}/v2/ep1/ping/$RUNPOD_POD_ID?gpu=NVIDIA+H200`,
        ...extra,
      };
    },
    async close() {
      wake();
      while (stopWaiters.length) stopWaiters.shift()!();
      await app.close();
    },
  };
}
