/**
 * Outputs to S3 end to end: the built worker (`--rp_serve_api`, a real process) with the A1111 simulator and an
 * S3-compatible server (s3rver) on loopback, driven by `runpod-sdk` (`runSync` with a request-level `s3Config`)
 * and plain HTTP. Each presigned URL in the output is downloaded and compared with the base64 image of the same
 * request run with `"output": "base64"`.
 *
 * The endpoint's own bucket (`BUCKET_*`) and `MAX_RESULT_MB` reach the handler through `handler/main.ts`
 * (`createA1111Handler({…, output: cfg.output})`); the tests that need them are skipped until that line is
 * there. A job's `s3Config` needs no wiring.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import runpodSdk from 'runpod-sdk';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { ROOT, startServeApi, type WorkerProcess } from '../helpers/worker-process.js';
import { startS3Server, type S3Server } from '../helpers/s3-fixtures.js';

/** True once main.ts passes the output settings (BUCKET_*, MAX_RESULT_MB) to the job handler. */
const WIRED = /output:\s*cfg\.output/.test(readFileSync(path.join(ROOT, 'handler/main.ts'), 'utf8'));

const ENV_KEY = ['AKIAE2EENVKEY00001', 'e2e-env-secret-ZXCVBNMASDFG'] as const;
const JOB_KEY = ['AKIAE2EJOBKEY00002', 'e2e-job-secret-POIUYTREWQLK'] as const;

interface StatusBody {
  id: string;
  status: string;
  output?: { images?: string[]; info?: string; parameters?: Record<string, unknown> };
  error?: string;
}

let sim: Simulator;
let s3: S3Server;
let worker: WorkerProcess & { url: string };
let endpoint: NonNullable<ReturnType<ReturnType<typeof runpodSdk>['endpoint']>>;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, stepMs: 0 });
  s3 = await startS3Server(['env-bucket', 'job-bucket'], [ENV_KEY, JOB_KEY]);
  worker = await startServeApi({
    A1111_URL: sim.url,
    RUNPOD_DEBUG_LEVEL: 'DEBUG',
    BUCKET_ENDPOINT_URL: `${s3.url}/env-bucket`,
    BUCKET_ACCESS_KEY_ID: ENV_KEY[0],
    BUCKET_SECRET_ACCESS_KEY: ENV_KEY[1],
  });
  endpoint = runpodSdk('local', { baseUrl: `${worker.url}/v2` }).endpoint('local')!;
});

afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await sim?.close();
  await s3?.close();
});

const PAYLOAD = { prompt: 'a lighthouse at dusk', steps: 2, width: 256, height: 256, batch_size: 2, seed: 77, subseed: 78 };
const txt2img = (extra: Record<string, unknown> = {}) => ({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: PAYLOAD, ...extra });
const s3Config = (bucketName = 'job-bucket') => ({ accessId: JOB_KEY[0], accessSecret: JOB_KEY[1], bucketName, endpointUrl: s3.url });

async function runSync(body: Record<string, unknown>): Promise<StatusBody> {
  const r = await fetch(`${worker.url}/v2/local/runsync?wait=60000`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  return (await r.json()) as StatusBody;
}

/** Downloads every URL (plain HTTP) and compares it with the base64 image of the same index. */
async function expectSameImages(urls: string[], base64: string[], bucket: string, jobId: string): Promise<void> {
  expect(urls).toHaveLength(base64.length);
  for (let i = 0; i < urls.length; i++) {
    const u = new URL(urls[i]!);
    expect(`${u.origin}${u.pathname}`).toBe(`${s3.url}/${bucket}/${jobId}/${i}.png`);
    expect(u.searchParams.get('X-Amz-Expires')).toBe('604800');
    const r = await fetch(urls[i]!);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await r.arrayBuffer()).equals(Buffer.from(base64[i]!, 'base64'))).toBe(true);
  }
}

let base64Images: string[];

describe('outputs to S3 through the local endpoint', () => {
  it('"output": "base64" returns base64 even with buckets configured', async () => {
    const r = await runSync({ input: txt2img({ output: 'base64' }), s3Config: s3Config() });
    expect(r.status).toBe('COMPLETED');
    base64Images = r.output!.images!;
    expect(base64Images).toHaveLength(2);
    expect(base64Images.every((s) => s.startsWith('iVBORw0KGgo'))).toBe(true);
  });

  it('a request-level s3Config (runpod-sdk runSync): presigned URLs into that bucket, same bytes, info and parameters kept', async () => {
    const r = (await endpoint.runSync({ input: txt2img(), s3Config: s3Config() } as never, 60_000)) as StatusBody;
    expect(r.status).toBe('COMPLETED');
    await expectSameImages(r.output!.images!, base64Images, 'job-bucket', r.id);
    expect(r.output!.parameters).toMatchObject({ prompt: PAYLOAD.prompt, seed: 77, batch_size: 2 });
    expect(typeof r.output!.info).toBe('string');
  });

  it.skipIf(!WIRED)('BUCKET_* on the endpoint: images go to its bucket without anything in the request', async () => {
    const r = await runSync({ input: { ...PAYLOAD } }); // bare txt2img input, the official worker's shape
    expect(r.status).toBe('COMPLETED');
    await expectSameImages(r.output!.images!, base64Images, 'env-bucket', r.id);
  });

  it('a result over MAX_RESULT_MB_SYNC (a /runsync job) without upload FAILS with the size and how to configure a bucket (never lost silently)', async () => {
    const big = { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'big', steps: 1, width: 1024, height: 1024, batch_size: 16, seed: 1 }, output: 'base64' };
    const r = await runSync({ input: big });
    expect(r.status).toBe('FAILED');
    expect(r.error).toMatch(/^result too large to return: \d+\.\d MB \(\d+ bytes\) as JSON is over the limit of 19 MiB \(19922944 bytes, MAX_RESULT_MB_SYNC=19\); RunPod refuses results over 20 MB for a \/runsync job\. /);
    expect(r.error).toMatch(WIRED ? /This job asked for "output": "base64": leave it out/ : /configure a bucket: set BUCKET_ENDPOINT_URL/);
  });

  it('an upload failure FAILS the job with the reason; no secret in results or logs', async () => {
    const r = await runSync({ input: txt2img(), s3Config: s3Config('missing-bucket') });
    expect(r.status).toBe('FAILED');
    expect(r.error).toMatch(new RegExp(`^S3 upload of image \\d to missing-bucket/${r.id}/\\d\\.png failed: NoSuchBucket \\(HTTP 404\\)`));
    const logs = worker.stdout() + worker.stderr();
    expect(logs).toContain(r.id);
    for (const secret of [ENV_KEY[1], JOB_KEY[1], JOB_KEY[0], ENV_KEY[0]]) {
      expect(logs).not.toContain(secret);
      expect(r.error).not.toContain(secret);
    }
  });
});
