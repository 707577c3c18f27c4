/**
 * The request model of each backend, read from its `GET /openapi.json` when it becomes ready and again after a job
 * called a `refresh-*` route, cached per backend URL (openapi.ts parses it; the bundled A1111 v1.10.1 model stands in
 * when a server serves none). The log says which model each backend uses.
 *
 * Jobs are checked before the pool chooses their backend, so with several backends they are checked against the
 * **common model**: the fields and routes that every ready backend serves (a field Forge has and A1111 has not is
 * refused in a pod that mixes them), coerced as the strictest of their pydantic versions.
 */
import type { Log } from '../log.js';
import { type A1111Caller } from './client.js';
import { A1111Error } from '../errors/index.js';
import { bundledModel, parseOpenApi } from './openapi.js';
import type { ModelField, RequestModel, ServerModel } from './server-model.js';

/** A backend whose model is read: its URL (the cache key) and a caller for it. */
export interface ModelSourceBackend {
  readonly url: string;
  readonly client: A1111Caller;
}

/** Options of {@link ServerModels}. */
export interface ServerModelsOptions {
  /** Timeout of one `GET /openapi.json`, ms (default 30 000). */
  timeoutMs?: number;
}

/** Caches each backend's {@link ServerModel}. */
export class ServerModels {
  private readonly cache = new Map<string, Promise<ServerModel>>();
  /** The last common model {@link forJobs} computed, and the models (in order) it is common to. */
  private common: { of: readonly ServerModel[]; model: ServerModel } | undefined;
  private readonly timeoutMs: number;

  constructor(
    private readonly log: Log,
    opts: ServerModelsOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /**
   * A backend's model: fetched on first use (shared by concurrent callers), then cached until {@link invalidate}.
   * A server that serves no usable document gets the bundled model (logged as a warning).
   * @throws A1111Error `unreachable` when the backend cannot be reached (nothing is cached then)
   */
  of(backend: ModelSourceBackend): Promise<ServerModel> {
    let p = this.cache.get(backend.url);
    if (!p) {
      p = this.load(backend);
      this.cache.set(backend.url, p);
      p.catch(() => this.cache.delete(backend.url));
    }
    return p;
  }

  /**
   * The model jobs are checked against: the one backend's, or the common model of several (see the module
   * comment); the bundled model when no backend is given.
   * @throws A1111Error `unreachable` as {@link of}
   */
  async forJobs(backends: readonly ModelSourceBackend[]): Promise<ServerModel> {
    if (backends.length === 0) return bundledModel();
    const models = await Promise.all(backends.map((b) => this.of(b)));
    if (models.length === 1) return models[0]!;
    // The common model of the same models is computed once (~0.1 ms per job for four backends, hot), not per job.
    const last = this.common;
    if (last && last.of.length === models.length && last.of.every((m, i) => m === models[i])) return last.model;
    const model = commonModel(models);
    this.common = { of: models, model };
    return model;
  }

  /** Forgets the cached models (all, or one backend's): after a `refresh-*` job, or when a backend came back. */
  invalidate(url?: string): void {
    if (url === undefined) this.cache.clear();
    else this.cache.delete(url);
  }

  private async load(backend: ModelSourceBackend): Promise<ServerModel> {
    let why: string;
    try {
      const res = await backend.client.call('GET', '/openapi.json', undefined, { timeoutMs: this.timeoutMs, timeoutName: 'request model timeout', noInterrupt: true });
      const model = parseOpenApi(JSON.parse(res.body.toString('utf8')) as unknown, backend.url);
      this.log.info(`Backend ${backend.url}: requests checked against ${model.description}: ${[...model.models.keys()].length} request models, ${model.paths?.size ?? 0} routes`);
      return model;
    } catch (e) {
      if (e instanceof A1111Error && (e.kind === 'unreachable' || e.kind === 'aborted')) throw e;
      why = e instanceof Error ? e.message : String(e);
    }
    const model = bundledModel();
    this.log.warn(`Backend ${backend.url}: no usable GET /openapi.json (${why}); requests checked against ${model.description}`);
    return model;
  }
}

/** The fields both models have (the first's definition; nullable only where both accept null). */
function commonRequestModel(a: RequestModel, b: RequestModel): RequestModel {
  const fields = new Map<string, ModelField>();
  for (const [name, f] of a.fields) {
    const g = b.fields.get(name);
    if (!g) continue;
    fields.set(name, { ...f, nullable: f.nullable && g.nullable, ...(f.nullFails ?? g.nullFails ? { nullFails: f.nullFails ?? g.nullFails } : {}) });
  }
  return { name: a.name, fields };
}

/**
 * What every one of several servers accepts: request models of the routes all have, with the fields all have;
 * routes all serve (servers that do not know their routes are left out of that); the strictest pydantic.
 */
export function commonModel(models: readonly ServerModel[]): ServerModel {
  if (models.length === 1) return models[0]!;
  const [first, ...rest] = models as [ServerModel, ...ServerModel[]];
  const requestModels = new Map<string, RequestModel>();
  for (const [path, m] of first.models) {
    let common: RequestModel | undefined = m;
    for (const other of rest) {
      const o = other.models.get(path);
      common = o && common ? commonRequestModel(common, o) : undefined;
    }
    if (common) requestModels.set(path, common);
  }
  const known = models.filter((m) => m.paths !== null);
  const paths = known.length === 0 ? null : new Set([...known[0]!.paths!].filter((p) => known.every((m) => m.paths!.has(p))));
  const sources = [...new Set(models.map((m) => m.description))];
  return {
    source: models.every((m) => m.source === 'bundled') ? 'bundled' : 'openapi',
    description: `the common model of ${models.length} backends (${sources.join('; ')})`,
    forge: models.every((m) => m.forge),
    pydantic: models.some((m) => m.pydantic === 2) ? 2 : 1,
    models: requestModels,
    paths,
  };
}
