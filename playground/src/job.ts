/**
 * One job of the playground: submitted with `/run`, followed with `/status` polls until it is final and, when it
 * asked for previews, with `/stream` (the worker streams `{"preview": <base64>, progress, step, steps, …}` chunks,
 * handler/jobs/call.ts). The worker's progress reports (`/status` output while IN_PROGRESS) are
 * `{progress (0–1), eta_relative (s), step, steps, job_no, job_count}` (handler/a1111/progress.ts).
 */
import { ApiError, FINAL_STATES, type EndpointApi, type StatusBody } from './api.js';

/** A progress report of the worker, as `/status` and the preview chunks carry it. */
export interface ProgressReport {
  progress: number;
  eta_relative: number;
  step: number;
  steps: number;
  job_no?: number;
  job_count?: number;
}

/** What a job tells the page. */
export interface JobEvents {
  /** Every `/status` body (the `/run` answer first), in order. */
  onStatus(body: StatusBody): void;
  /** A progress report (from `/status` or a preview chunk). */
  onProgress(report: ProgressReport): void;
  /** A live preview, base64 as A1111 encodes it. */
  onPreview(image: string): void;
  /** The final `/status` body. */
  onFinal(body: StatusBody): void;
  /** A call the page made was refused or failed (e.g. 400 on `/run`, 401 without the key); the job is over for the page. */
  onApiError(error: ApiError): void;
}

/** Time between `/status` polls, ms. */
export const STATUS_POLL_MS = 250;

/** `/status` polls in a row that may fail (network, 5xx) before the page gives up on the job. */
export const MAX_POLL_FAILURES = 5;

/** Reads a progress report from a `/status` output or a stream chunk; undefined when it is none. */
export function readProgress(v: unknown): ProgressReport | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.progress !== 'number') return undefined;
  const n = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  return { progress: o.progress, eta_relative: n(o.eta_relative), step: n(o.step), steps: n(o.steps), job_no: n(o.job_no), job_count: n(o.job_count) };
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A job submitted by the page, followed until final. */
export class JobRun {
  /** The job id, once `/run` answered. */
  id: string | undefined;
  private done = false;

  constructor(
    private readonly api: EndpointApi,
    private readonly request: { input: { preview?: boolean } },
    private readonly events: JobEvents,
  ) {}

  /** True once the job is final (or the page gave up on it). */
  get finished(): boolean {
    return this.done;
  }

  /** Submits the job and follows it; resolves when it is final. Never rejects: failures go to `onApiError`. */
  async start(): Promise<void> {
    try {
      const first = await this.api.run(this.request);
      this.id = first.id;
      this.events.onStatus(first);
      const streaming = this.request.input.preview === true ? this.followStream(first.id) : Promise.resolve();
      await this.followStatus(first.id);
      await streaming;
    } catch (e) {
      this.done = true;
      this.events.onApiError(e instanceof ApiError ? e : new ApiError(0, (e as Error).message));
    }
  }

  /** Asks the endpoint to cancel the job (`/cancel`); the status polls then see CANCELLED. */
  async cancel(): Promise<void> {
    if (this.id === undefined || this.done) return;
    try {
      await this.api.cancel(this.id);
    } catch (e) {
      // A job that ended meanwhile keeps its final display.
      if (!this.done) this.events.onApiError(e instanceof ApiError ? e : new ApiError(0, (e as Error).message));
    }
  }

  private async followStatus(id: string): Promise<void> {
    let failures = 0;
    for (;;) {
      await pause(STATUS_POLL_MS);
      let body: StatusBody;
      try {
        body = await this.api.status(id);
        failures = 0;
      } catch (e) {
        // A passing failure (the endpoint busy, a dropped connection) is polled through; a refusal (401, 404) is not.
        if (!(e instanceof ApiError) || (e.status !== 0 && e.status < 500) || ++failures > MAX_POLL_FAILURES) throw e;
        continue;
      }
      this.events.onStatus(body);
      if (FINAL_STATES.includes(body.status)) {
        this.done = true;
        this.events.onFinal(body);
        return;
      }
      const report = body.status === 'IN_PROGRESS' ? readProgress(body.output) : undefined;
      if (report) this.events.onProgress(report);
    }
  }

  /** Long-polls `/stream` (the endpoint holds it while nothing is new) until the job is final. */
  private async followStream(id: string): Promise<void> {
    while (!this.done) {
      let body;
      try {
        body = await this.api.stream(id);
      } catch {
        return; // previews are a bonus: /status still follows the job
      }
      for (const chunk of body.stream) {
        const out = chunk.output as { preview?: unknown } | null;
        if (out && typeof out.preview === 'string') this.events.onPreview(out.preview);
        const report = readProgress(out);
        if (report) this.events.onProgress(report);
      }
      if (FINAL_STATES.includes(body.status)) return;
    }
  }
}
