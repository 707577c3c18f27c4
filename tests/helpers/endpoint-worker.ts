/**
 * The worker process under test against the local endpoint emulator (`startEndpoint`): the emulator as RunPod's
 * platform, with every worker-API request recorded, and what the tests read from those records (the result a
 * worker posted for a job, when a job was handed out, which long-polls are held).
 */
import { startEndpoint, type EndpointOptions, type LocalEndpoint, type WorkerApiRecord } from '../../handler/endpoint/index.js';
import { postJson } from './http-json.js';
import { until } from './wait.js';

export type { LocalEndpoint, WorkerApiRecord };

/** A final job-done post with its body parsed (undefined when not JSON). */
export type ResultRecord = WorkerApiRecord & { body: unknown };

/**
 * Starts the emulator on a free loopback port as endpoint `ep1`, recording every worker-API request with its body,
 * holding an empty job-take 300 ms. `o` overrides any of these.
 */
export function startTestEndpoint(o: EndpointOptions = {}): Promise<LocalEndpoint> {
  return startEndpoint({ port: 0, endpointId: 'ep1', takeHoldMs: 300, recordBodies: true, ...o });
}

/**
 * The env RunPod gives a worker (docs/runpod-protocol.md, "Process entry and mode selection"): `RUNPOD_POD_ID`,
 * `RUNPOD_AI_API_KEY` (`test-key`) and the `RUNPOD_WEBHOOK_*` templates of `ep`, with a production-like
 * `gpu=NVIDIA+H200` query, then `extra`.
 */
export function workerEnv(ep: LocalEndpoint, workerId: string, extra: Record<string, string> = {}): Record<string, string> {
  const templates = Object.entries(ep.workerEnv()).map(([k, v]) => [k, v.replace('?gpu=local', '?gpu=NVIDIA+H200')]);
  return { RUNPOD_POD_ID: workerId, RUNPOD_AI_API_KEY: 'test-key', ...Object.fromEntries(templates), ...extra };
}

/** Queues a job through the public `/run` with `input` (and any other request fields); returns its id. */
export async function run(ep: LocalEndpoint, input: unknown, fields: Record<string, unknown> = {}): Promise<string> {
  const r = await postJson(`${ep.url}/v2/ep1/run`, { input, ...fields });
  const id = (r.body as { id?: unknown }).id;
  if (r.status !== 200 || typeof id !== 'string') throw new Error(`/run answered ${r.status}: ${JSON.stringify(r.body)}`);
  return id;
}

/**
 * When a record's event happened, epoch ms: job-take and job-stop when answered (after their hold; `Infinity` while
 * held), the rest when received.
 */
export function at(r: WorkerApiRecord): number {
  return r.kind === 'take' || r.kind === 'stop' ? (r.answeredAt ?? Infinity) : r.receivedAt;
}

/** The records of `kind` whose event ({@link at}) lies in [from, to]; a job-take or job-stop once answered. */
export function recordsOf(ep: LocalEndpoint, kind: WorkerApiRecord['kind'], from = -Infinity, to = Infinity): WorkerApiRecord[] {
  return ep.requests().filter((r) => r.kind === kind && Number.isFinite(at(r)) && at(r) >= from && at(r) <= to);
}

/** The answered job-take that handed out `jobId`, if any. */
export function takeOf(ep: LocalEndpoint, jobId: string): WorkerApiRecord | undefined {
  return ep.requests().find((r) => r.kind === 'take' && r.status === 200 && r.jobIds?.includes(jobId));
}

/** Job-takes received and not answered yet (held in the long-poll). */
export function takesInFlight(ep: LocalEndpoint): number {
  return ep.requests().filter((r) => r.kind === 'take' && r.status === undefined).length;
}

function withBody(r: WorkerApiRecord): ResultRecord {
  let body: unknown;
  try {
    body = r.raw === undefined ? undefined : JSON.parse(r.raw);
  } catch {
    body = undefined;
  }
  return { ...r, body };
}

const isResult = (r: WorkerApiRecord): boolean => r.kind === 'done' && r.progress === false && r.status === 200;

/** The final job-done posts the emulator took (answered 200), in arrival order (bodies not parsed). */
export function results(ep: LocalEndpoint): WorkerApiRecord[] {
  return ep.requests().filter(isResult);
}

/** Every final job-done post for `jobId` that reached the route, whatever its answer (e.g. 404 for an unknown job). */
export function finalPostsOf(ep: LocalEndpoint, jobId: string): ResultRecord[] {
  return ep.requests().filter((r) => r.kind === 'done' && r.jobId === jobId && r.progress === false && r.status !== undefined).map(withBody);
}

/** Waits for the final result of a job the emulator took (answered 200); throws after `timeoutMs` (default 30 000). */
export async function resultOf(ep: LocalEndpoint, jobId: string, timeoutMs = 30_000): Promise<ResultRecord> {
  return withBody(await until(() => ep.requests().find((r) => r.jobId === jobId && isResult(r)), { timeoutMs, what: `the result of job ${jobId}` }));
}
