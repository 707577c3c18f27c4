/**
 * Unit checks of the RunPod parity pieces (issue 12 items 1, 3, 6): job-take batch parsing, the refused-result
 * fallback body, the per-route result limits, `s3Config.objectPath`, `refresh_worker` in the envelope and the
 * emulator's worker counts.
 */
import { describe, expect, it } from 'vitest';
import { WorkerSightings, WORKER_SEEN_WINDOW_MS } from '../../handler/endpoint/workers.js';
import { parseEnvelope } from '../../handler/jobs/input/envelope.js';
import { JobInputError } from '../../handler/errors/index.js';
import { parseObjectPath, resultLimitFor } from '../../handler/jobs/output/output.js';
import { objectKey } from '../../handler/jobs/output/s3.js';
import { platformResultLimit, refusedResultBody } from '../../handler/runpod/index.js';
import { parseJobs } from '../../handler/runpod/platform/take.js';

const JSON_CT = 'application/json';
const MiB = 1024 * 1024;

describe('parseJobs (job-take answers)', () => {
  it('a single object without id/input is an error, as in runpod-python', () => {
    expect(parseJobs('{"input": {}}', JSON_CT)).toMatchObject({ kind: 'error', message: expect.stringMatching(/^Job has missing field\(s\): id or input\./) });
    expect(parseJobs('{"id": "a", "input": null}', JSON_CT)).toEqual({ kind: 'jobs', jobs: [{ id: 'a', input: null }], malformed: [] });
  });

  it('a batch keeps its good jobs and reports each malformed one, with its id when it has one', () => {
    const out = parseJobs(JSON.stringify([{ id: 'a', input: 1 }, { id: 'b' }, null, { id: '', input: 2 }, { id: 'c', input: 3 }]), JSON_CT);
    expect(out).toEqual({
      kind: 'jobs',
      jobs: [
        { id: 'a', input: 1 },
        { id: 'c', input: 3 },
      ],
      malformed: [
        { id: 'b', reason: 'job 2 of 5 in the job-take-batch answer has no "input"' },
        { reason: 'job 3 of 5 in the job-take-batch answer is not a JSON object (got null)' },
        { reason: 'job 4 of 5 in the job-take-batch answer has no "id" (a non-empty string; got "")' },
      ],
    });
    expect(parseJobs('[]', JSON_CT)).toEqual({ kind: 'empty' });
  });
});

describe('refused results (job-done 4xx)', () => {
  it('the limit follows the route: sync- ids are /runsync jobs', () => {
    expect(platformResultLimit('sync-1-u1')).toEqual({ bytes: 20 * MiB, route: '/runsync' });
    expect(platformResultLimit('1-u1')).toEqual({ bytes: 10 * MiB, route: '/run' });
  });

  it('the fallback names the status, the size, the limit and S3, and keeps stopPod', () => {
    const body = refusedResultBody(413, 15_000_000, 'sync-x-u1', true);
    expect(body.stopPod).toBe(true);
    expect(body.error).toMatch(/^RunPod refused the job's result \(job-done answered HTTP 413\): the result was 15\.0 MB \(15000000 bytes\); RunPod accepts at most 20 MB \(20971520 bytes\) for a \/runsync job \(10 MB for \/run\)\. /);
    expect(body.error).toMatch(/BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID and BUCKET_SECRET_ACCESS_KEY.*s3Config/);
    expect(refusedResultBody(400, 1, 'a-u1', false)).not.toHaveProperty('stopPod');
  });
});

describe('result limits per route (MAX_RESULT_MB_RUN / _SYNC / MAX_RESULT_MB)', () => {
  it('per route when set, else MAX_RESULT_MB', () => {
    const both = { maxResultBytes: 19 * MiB, maxResultBytesRun: 9 * MiB, maxResultBytesSync: 19 * MiB };
    expect(resultLimitFor(both, 'x-u1')).toEqual({ bytes: 9 * MiB, name: 'MAX_RESULT_MB_RUN' });
    expect(resultLimitFor(both, 'sync-x-u1')).toEqual({ bytes: 19 * MiB, name: 'MAX_RESULT_MB_SYNC' });
    expect(resultLimitFor({ maxResultBytes: 64 * MiB }, 'x-u1')).toEqual({ bytes: 64 * MiB, name: 'MAX_RESULT_MB' });
  });
});

describe('s3Config.objectPath', () => {
  it('is trimmed of slashes and prefixed to the key; unsafe paths are refused', () => {
    expect(parseObjectPath({ objectPath: '/a/b-1/' })).toBe('a/b-1');
    expect(parseObjectPath({ objectPath: '' })).toBeUndefined();
    expect(parseObjectPath({})).toBeUndefined();
    for (const bad of ['a/../b', 'a b', 'x//y', 5]) expect(() => parseObjectPath({ objectPath: bad })).toThrow(JobInputError);
    expect(objectKey('job-u1', 2, 'png', 'a/b')).toBe('a/b/job-u1/2.png');
    expect(objectKey('job-u1', 2, 'png')).toBe('job-u1/2.png');
  });
});

describe('refresh_worker in the job input', () => {
  it('is a worker option next to api/payload or in a bare txt2img input, a boolean, not sent to A1111', () => {
    expect(parseEnvelope({ prompt: 'x', refresh_worker: true })).toMatchObject({ payload: { prompt: 'x' }, options: { refreshWorker: true } });
    expect(parseEnvelope({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: {}, refresh_worker: false }).options.refreshWorker).toBe(false);
    expect(parseEnvelope({ prompt: 'x' }).options.refreshWorker).toBe(false);
    expect(() => parseEnvelope({ prompt: 'x', refresh_worker: 1 })).toThrow('input.refresh_worker: 1 is not allowed (must be true or false)');
  });
});

describe('the emulator counts workers for /health', () => {
  it('ping-only = initializing, unhealthy ping = unhealthy, api = idle, busy = running; ready = idle + running', () => {
    const w = new WorkerSightings();
    w.record('boot', 0, 'ping');
    w.record('sick', 0, 'api');
    w.record('sick', 1, 'ping', true);
    w.record('free', 0, 'api');
    w.record('busy', 0, 'api');
    expect(w.counts(10, new Set(['busy']))).toEqual({ idle: 1, initializing: 1, ready: 2, running: 1, throttled: 0, unhealthy: 1 });
    w.record('sick', 2, 'ping');
    expect(w.counts(10, new Set(['busy'])).unhealthy).toBe(0);
    expect(w.counts(WORKER_SEEN_WINDOW_MS + 100, new Set())).toEqual({ idle: 0, initializing: 0, ready: 0, running: 0, throttled: 0, unhealthy: 0 });
  });
});
