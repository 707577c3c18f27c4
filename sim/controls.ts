/**
 * The simulator's test controls under `/sim/`, a prefix A1111 does not use: queued faults, the request log, files
 * added to the model folders, and a state summary. Errors answer 400 `{"detail": message}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseFiles } from './catalog.js';
import type { SimEnv } from './env.js';
import type { FaultPlan } from './faults.js';
import { sendJson, type BodyInput, type SimRequestRecord } from './http.js';

/** What the controls read and change. */
export interface ControlDeps {
  env: SimEnv;
  faults: FaultPlan;
  /** every non-`/sim/` request, in arrival order */
  requests: SimRequestRecord[];
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Registers `/sim/faults`, `/sim/requests`, `/sim/files` and `/sim/state`. */
export function registerControls(app: FastifyInstance, deps: ControlDeps, bodyOf: (request: FastifyRequest) => BodyInput): void {
  const { env, faults, requests } = deps;
  const { catalog } = env;
  const tryReply = (reply: FastifyReply, fn: () => unknown) => {
    try {
      return sendJson(reply, 200, fn());
    } catch (e) {
      return sendJson(reply, 400, { detail: message(e) });
    }
  };
  app.post('/sim/faults', (request, reply) =>
    tryReply(reply, () => {
      const body = bodyOf(request);
      faults.inject(body.kind === 'json' ? body.value : body.kind === 'none' ? undefined : null);
      return { ok: true, pending: faults.pending().length };
    }),
  );
  app.get('/sim/faults', (_request, reply) => sendJson(reply, 200, { faults: faults.pending() }));
  app.delete('/sim/faults', (_request, reply) => sendJson(reply, 200, { cleared: faults.clear() }));
  app.get('/sim/requests', (request, reply) => {
    const raw = (request.query as Record<string, string | undefined>)['since'];
    const since = raw === undefined ? 0 : Number(raw);
    if (!Number.isInteger(since) || since < 0) return sendJson(reply, 400, { detail: `since must be an integer >= 0, got ${raw}` });
    return sendJson(reply, 200, requests.slice(since));
  });
  app.delete('/sim/requests', (_request, reply) => sendJson(reply, 200, { cleared: requests.splice(0).length }));
  app.post('/sim/files', (request, reply) =>
    tryReply(reply, () => {
      const body = bodyOf(request);
      catalog.addFiles(parseFiles(body.kind === 'json' ? body.value : undefined));
      return { ok: true, pending: catalog.pendingFiles };
    }),
  );
  app.get('/sim/state', (_request, reply) =>
    sendJson(reply, 200, {
      queue: env.lock.pending,
      loaded_model: catalog.loadedModelTitle,
      current_model: catalog.currentCheckpoint().item.title,
      state: env.state.dict(),
      pending_faults: faults.pending().length,
      fault_stats: faults.snapshot(),
      cached_images: env.cache.size,
    }),
  );
}
