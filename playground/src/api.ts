/**
 * The playground's calls to the local endpoint: RunPod's public queue API under `/v2/<endpointId>/` (RunPod docs
 * serverless/endpoints/operation-reference.mdx: `/run`, `/runsync`, `/status/{id}`, `/stream/{id}`, `/cancel/{id}`,
 * `/health`) and the admin list of A1111 backends (`POST /admin/servers`, served by `--rp_serve_api`).
 */

/** What `GET /playground/config.json` answers. */
export interface PageConfig {
  endpointId: string;
  /** When true, every API call needs `Authorization: Bearer <key>`. */
  apiKeyRequired: boolean;
}

/** The states of a RunPod job. */
export type JobStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT';

/** The final states: polling stops at these. */
export const FINAL_STATES: readonly JobStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

/** The body of `/status` (and `/run`, `/runsync`, `/cancel`): times in ms. */
export interface StatusBody {
  id: string;
  status: JobStatus;
  delayTime?: number;
  executionTime?: number;
  /** The latest progress report while IN_PROGRESS; the result when COMPLETED. */
  output?: unknown;
  error?: unknown;
  workerId?: string;
}

/** The body of `/stream/{id}`: the chunks posted since the previous call. */
export interface StreamBody {
  id: string;
  status: JobStatus;
  stream: { output: unknown }[];
}

/** The body of `/health`. */
export interface HealthBody {
  jobs: { completed: number; failed: number; inProgress: number; inQueue: number; retried: number };
  workers: Record<string, number>;
}

/** An answer other than 2xx, or a network failure (`status` 0); `message` is the endpoint's `{"error"}` when it gave one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The endpoint's API, as the page calls it. */
export class EndpointApi {
  /**
   * @param origin `http://host:port` of the endpoint (the page's own origin)
   * @param endpointId the id in `/v2/<endpointId>/`
   * @param apiKey the key the user entered, read on every call ('' = none)
   */
  constructor(
    readonly origin: string,
    readonly endpointId: string,
    private readonly apiKey: () => string,
  ) {}

  /** `http://host:port/v2/<endpointId>`: what runpod-sdk and runpod-python take as base URL plus the id. */
  get base(): string {
    return `${this.origin}/v2/${encodeURIComponent(this.endpointId)}`;
  }

  /** POST `/run`: queues the job; answers `{id, status: "IN_QUEUE"}`. */
  run(body: unknown): Promise<StatusBody> {
    return this.call('POST', `${this.base}/run`, body);
  }

  /** POST `/runsync`: runs the job and waits for it (up to the endpoint's wait). */
  runSync(body: unknown): Promise<StatusBody> {
    return this.call('POST', `${this.base}/runsync`, body);
  }

  /** GET `/status/{id}`. */
  status(id: string): Promise<StatusBody> {
    return this.call('GET', `${this.base}/status/${encodeURIComponent(id)}`);
  }

  /** GET `/stream/{id}`: held by the endpoint up to its stream hold while nothing is new. */
  stream(id: string): Promise<StreamBody> {
    return this.call('GET', `${this.base}/stream/${encodeURIComponent(id)}`);
  }

  /** POST `/cancel/{id}`. */
  cancel(id: string): Promise<StatusBody> {
    return this.call('POST', `${this.base}/cancel/${encodeURIComponent(id)}`);
  }

  /** GET `/health`. */
  health(): Promise<HealthBody> {
    return this.call('GET', `${this.base}/health`);
  }

  /** The registered A1111 backends (`POST /admin/servers`); undefined when the admin API is not served. */
  async backends(): Promise<string[] | undefined> {
    try {
      const body = await this.call<{ image?: unknown }>('POST', `${this.origin}/admin/servers`);
      return Array.isArray(body.image) ? body.image.filter((u): u is string => typeof u === 'string') : [];
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** The `Authorization` header the calls carry, or none. */
  headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = json ? { 'content-type': 'application/json' } : {};
    const key = this.apiKey().trim();
    if (key !== '') h.authorization = `Bearer ${key}`;
    return h;
  }

  private async call<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(url, { method, headers: this.headers(body !== undefined), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (e) {
      throw new ApiError(0, `the endpoint cannot be reached (${(e as Error).message}): is the worker still running?`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const msg = parsed !== null && typeof parsed === 'object' && typeof (parsed as { error?: unknown }).error === 'string' ? (parsed as { error: string }).error : text;
      throw new ApiError(res.status, `${res.status}: ${msg || res.statusText}`);
    }
    return parsed as T;
  }
}
