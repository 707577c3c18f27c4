/**
 * Reading the platform's job-take and job-stop answers (docs/runpod-protocol.md: "Job acquisition (job-take)", "Per-job stop channel (job-stop, since 1.10.0)").
 *
 * Public sources: runpod-python `runpod/serverless/modules/rp_job.py` (`get_job`: 204/400 → no job, the
 * content-type and empty-body checks, "Job has missing field(s): id or input." for the single-object form) and
 * `get_stop_signals` (`{"jobsToStop": [...]}`, non-string ids dropped).
 */
import type { Job } from '../types.js';
import type { MalformedJob, TakeOutcome } from './platform.js';

/** Why an element of a job-take answer is not a job, or undefined when it is one. */
function malformedReason(it: unknown): string | undefined {
  if (it === null || typeof it !== 'object' || Array.isArray(it)) return `is not a JSON object (got ${JSON.stringify(it)?.slice(0, 80) ?? String(it)})`;
  const o = it as Record<string, unknown>;
  const id = o.id;
  if (typeof id !== 'string' || id === '') return `has no "id" (a non-empty string; got ${JSON.stringify(id)?.slice(0, 80) ?? 'nothing'})`;
  if (!('input' in o)) return 'has no "input"';
  return undefined;
}

/**
 * Reads a 2xx job-take body (docs/runpod-protocol.md, "Job acquisition (job-take)"). A content type other than `application/json` or an empty body means no
 * job; a body that is not JSON is an error. A single object (job-take) without `id`/`input` is an error, as in
 * runpod-python. In an array (job-take-batch) each malformed element is reported in `malformed` and the others
 * are returned as jobs.
 * @param raw the body as text
 * @param contentType the `Content-Type` header (parameters ignored; missing = `application/octet-stream`)
 */
export function parseJobs(raw: string, contentType: string | undefined): TakeOutcome {
  const mime = (contentType ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
  if (mime !== 'application/json' || raw.length === 0) return { kind: 'empty' };
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { kind: 'error', message: `job-take answered with a body that is not JSON: ${JSON.stringify(raw.slice(0, 80))}` };
  }
  if (!Array.isArray(body)) {
    if (body === null || typeof body !== 'object') return { kind: 'empty' };
    if (malformedReason(body) !== undefined) {
      return { kind: 'error', message: `Job has missing field(s): id or input. (got ${JSON.stringify(body).slice(0, 120)})` };
    }
    return { kind: 'jobs', jobs: [body as Job], malformed: [] };
  }
  if (body.length === 0) return { kind: 'empty' };
  const jobs: Job[] = [];
  const malformed: MalformedJob[] = [];
  body.forEach((it: unknown, i) => {
    const why = malformedReason(it);
    if (why === undefined) {
      jobs.push(it as Job);
      return;
    }
    const id = it !== null && typeof it === 'object' ? (it as { id?: unknown }).id : undefined;
    const reason = `job ${i + 1} of ${body.length} in the job-take-batch answer ${why}`;
    malformed.push(typeof id === 'string' && id !== '' ? { id, reason } : { reason });
  });
  return { kind: 'jobs', jobs, malformed };
}

/** Reads `{"jobsToStop": [...]}` (docs/runpod-protocol.md, "Per-job stop channel (job-stop, since 1.10.0)"); anything else, and non-string ids, are ignored. */
export function parseStopIds(raw: unknown): string[] {
  let body: unknown = raw;
  if (typeof raw === 'string') {
    try {
      body = JSON.parse(raw);
    } catch {
      return [];
    }
  }
  const list = body !== null && typeof body === 'object' ? (body as { jobsToStop?: unknown }).jobsToStop : undefined;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
}
