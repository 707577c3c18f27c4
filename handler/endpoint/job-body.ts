/**
 * The bodies the local endpoint emulator answers about one job: `/status` (and `/runsync`, `/status-sync`) and
 * the webhook. Apart from `jobs.ts`, which keeps the state machine.
 *
 * Public sources: RunPod docs serverless/endpoints/operation-reference.mdx ("/status" response:
 * `{delayTime, executionTime, id, output, status}`) and send-requests.mdx ("Webhook notifications": "the same
 * information as the `/status/JOB_ID` endpoint"); the cloud webhook body with `input` and `webhook` is the one
 * shown in runpod-python#409.
 */
import type { Job, JobStatus } from './job.js';

/** Body of `/status`, keys in the platform's (alphabetical) order. */
export interface StatusBody {
  delayTime?: number;
  error?: unknown;
  executionTime?: number;
  id: string;
  output?: unknown;
  status: JobStatus;
  workerId?: string;
}

/** Python truthiness of a JSON value: a result is FAILED when its `error` is truthy (runpod-python `rp_job.py`). */
export function isTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

const ms = (x: number): number => Math.max(0, Math.round(x));

/** A copy of `o` with its keys in alphabetical order (the platform's JSON key order) and undefined values dropped. */
export function sortKeys<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) {
    const v = (o as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out as T;
}

/**
 * The `/status` body of a job at monotonic time `now` (ms): `{id, status}` while queued; `delayTime` (submission →
 * take), `executionTime` (take → now or final), `workerId` once taken; `output` = latest progress while
 * IN_PROGRESS, the result when COMPLETED (null when the worker sent none), and with `error` when FAILED.
 */
export function statusBody(job: Job, now: number): StatusBody {
  const body: StatusBody = { id: job.id, status: job.status };
  if (job.takenAt !== undefined) {
    body.delayTime = ms(job.takenAt - job.submittedAt);
    body.executionTime = ms((job.finishedAt ?? now) - job.takenAt);
  }
  if (job.status === 'IN_PROGRESS' && job.progress) body.output = job.progress.value;
  if (job.status === 'COMPLETED') body.output = job.output ? job.output.value : null;
  if (job.status === 'FAILED') {
    body.error = job.error?.value;
    if (job.output) body.output = job.output.value;
  }
  if (job.workerId !== undefined && job.takenAt !== undefined) body.workerId = job.workerId;
  return sortKeys(body);
}

/**
 * The body POSTed to a job's webhook (cloud shape of runpod-python#409):
 * `{delayTime, executionTime, id, input, output | error, status, webhook}`. `webhookV2` requests get the same body
 * with `webhookV2` instead of `webhook` (RunPod documents no other shape; the field is in runpod/js-sdk's types).
 * @param field which request field the delivery is for
 */
export function webhookBody(job: Job, now: number, field: 'webhook' | 'webhookV2' = 'webhook'): Record<string, unknown> {
  const { workerId: _workerId, ...status } = statusBody(job, now);
  return sortKeys({ ...status, input: job.request.input, [field]: job.request[field] }) as Record<string, unknown>;
}
