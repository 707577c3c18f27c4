/**
 * End to end, issue 12 item 6 (RunPod parity of jobs): the built worker as a child process with the A1111
 * simulator as a child process.
 *
 * - `s3Config.objectPath` of a request prefixes that job's object keys (local endpoint emulator in this process,
 *   s3rver on loopback).
 * - A malformed job inside a job-take-batch answer fails alone (posted FAILED when it has an id, skipped
 *   otherwise) and the others run (the emulator answers one job-take with a hand-made body).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEndpoint, type LocalEndpoint } from '../../handler/endpoint/index.js';
import { postJson } from '../helpers/http-json.js';
import { finalPostsOf, startTestEndpoint, workerEnv } from '../helpers/endpoint-worker.js';
import { startS3Server, type S3Server } from '../helpers/s3-fixtures.js';
import { startSimProcess, type SimProcess } from '../helpers/sim-process.js';
import { until } from '../helpers/wait.js';
import { startWorker, type WorkerProcess } from '../helpers/worker-process.js';

const BASE_ENV = { RUNPOD_PING_INTERVAL: '1000', RESULT_POST_MIN_DELAY_MS: '50', RESULT_POST_MAX_DELAY_MS: '200', RUNPOD_DEBUG_LEVEL: 'INFO' };
const KEY = ['PARITYKEY', 'PARITYSECRET'] as const;
const small = (prompt: string): Record<string, unknown> => ({ prompt, steps: 1, width: 64, height: 64 });

async function kill(w: WorkerProcess | undefined): Promise<void> {
  if (w && w.child.exitCode === null && w.child.signalCode === null) {
    w.child.kill('SIGKILL');
    await w.exited;
  }
}

let sim: SimProcess;
beforeAll(async () => {
  sim = await startSimProcess(['--step-ms', '1']);
}, 30_000);
afterAll(async () => {
  await sim?.close();
});

describe('parity: s3Config.objectPath is the key prefix of the job uploads', () => {
  let s3: S3Server;
  let ep: LocalEndpoint;
  let worker: WorkerProcess | undefined;
  beforeAll(async () => {
    s3 = await startS3Server(['job-bucket'], [KEY]);
    ep = await startEndpoint({ port: 0, takeHoldMs: 500 });
    worker = startWorker({ ...BASE_ENV, ...ep.workerEnv(), RUNPOD_POD_ID: 'w-s3', RUNPOD_AI_API_KEY: 'k', A1111_URL: sim.url });
  }, 30_000);
  afterAll(async () => {
    await kill(worker);
    await ep?.close();
    await s3?.close();
  });

  const s3Config = (extra: Record<string, unknown> = {}) => ({ accessId: KEY[0], accessSecret: KEY[1], bucketName: 'job-bucket', endpointUrl: s3.url, ...extra });

  it('images are stored at <objectPath>/<job id>/<i>.png and the presigned URLs serve them', async () => {
    const r = (await postJson(`${ep.url}/v2/local/runsync?wait=60000`, { input: small('prefixed'), s3Config: s3Config({ objectPath: '/outputs/2025/' }) })).body as {
      id: string;
      status: string;
      output: { images: string[] };
    };
    expect(r.status).toBe('COMPLETED');
    const url = new URL(r.output.images[0]!);
    expect(url.pathname).toBe(`/job-bucket/outputs/2025/${r.id}/0.png`);
    const png = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('without objectPath the key is <job id>/<i>.png; a path with ".." is refused naming the field', async () => {
    const plain = (await postJson(`${ep.url}/v2/local/runsync?wait=60000`, { input: small('plain'), s3Config: s3Config() })).body as { id: string; output: { images: string[] } };
    expect(new URL(plain.output.images[0]!).pathname).toBe(`/job-bucket/${plain.id}/0.png`);
    const bad = (await postJson(`${ep.url}/v2/local/runsync?wait=60000`, { input: small('bad'), s3Config: s3Config({ objectPath: 'a/../b' }) })).body as { status: string; error: string };
    expect(bad.status).toBe('FAILED');
    expect(bad.error).toMatch(/^s3Config\.objectPath "a\/\.\.\/b" is not allowed/);
  });
});

describe('parity: a malformed job of a job-take-batch answer fails alone', () => {
  let platform: LocalEndpoint;
  let worker: WorkerProcess | undefined;
  beforeAll(async () => {
    platform = await startTestEndpoint({ takeHoldMs: 200 });
  });
  afterAll(async () => {
    await kill(worker);
    await platform?.close();
  });
  /** The first final job-done post for `id` (the emulator does not know these jobs: it answers them 404). */
  const resultOf = (id: string) => until(() => finalPostsOf(platform, id)[0], `the result of ${id}`);

  it('posts FAILED for a job with an id but no input, skips one without id, runs the others', async () => {
    const batch = [
      { id: 'batch-ok-1', input: small('one') },
      { id: 'batch-no-input' },
      42,
      { input: small('no id') },
      { id: 'batch-ok-2', input: small('two') },
    ];
    platform.injectFault({ route: 'take', answer: { status: 200, body: JSON.stringify(batch), contentType: 'application/json' } });
    worker = startWorker({ ...BASE_ENV, ...workerEnv(platform, 'w-batch'), A1111_URL: sim.url });
    for (const id of ['batch-ok-1', 'batch-ok-2']) expect(((await resultOf(id)).body as { output?: { images: string[] } }).output?.images).toHaveLength(1);
    const bad = (await resultOf('batch-no-input')).body as { error: string };
    expect(bad.error).toBe('malformed job: job 2 of 5 in the job-take-batch answer has no "input"');
    const logs = (): string => worker!.stdout() + worker!.stderr();
    await until(() => /Skipped a malformed job: job 3 of 5 in the job-take-batch answer is not a JSON object/.test(logs()), 'the skip of job 3 to be logged');
    expect(logs()).toMatch(/Skipped a malformed job: job 4 of 5 in the job-take-batch answer has no "id"/);
    const posted = platform.requests().filter((r) => r.kind === 'done' && r.progress === false);
    expect([...new Set(posted.map((r) => r.jobId))].sort()).toEqual(['batch-no-input', 'batch-ok-1', 'batch-ok-2']);
  }, 60_000);
});
