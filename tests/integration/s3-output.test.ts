/**
 * Outputs to S3 and the result size guard, through the real job handler (createA1111Handler) against the A1111
 * simulator and a real S3-compatible server (s3rver), both on loopback. Every presigned URL is downloaded
 * with plain HTTP and its bytes compared with the base64 image the simulator produced for the same request.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Lists } from '../../handler/a1111/lists.js';
import { loadConfig, type OutputConfig } from '../../handler/config.js';
import { createA1111Handler, type JobContext } from '../../handler/jobs/handler.js';
import { resolveRoute } from '../../handler/jobs/input/routes.js';
import { OutputStage } from '../../handler/jobs/output/output.js';
import type { S3UploaderOptions } from '../../handler/jobs/output/uploader.js';
import { silentLog, type Log } from '../../handler/log.js';
import { RawJson } from '../../handler/runpod/index.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { a1111Config, closedPort } from '../helpers/fixtures.js';
import { startS3Server, type S3Server } from '../helpers/s3-fixtures.js';
import { until } from '../helpers/wait.js';

const LIMITS = loadConfig([], {}).limits;
const MiB = 1024 * 1024;

/** Distinctive credentials (registered with s3rver) so logs and messages can be searched for them. */
const ENV_KEY = ['AKIAENVKEY0SECRET1', 'env-secret-WJALRXUTNFEMI'] as const;
const JOB_KEY = ['AKIAJOBKEY0SECRET2', 'job-secret-K7MDENGBPXRFI'] as const;
const SECRETS = [...ENV_KEY, ...JOB_KEY, 'AKIAWRONGKEY0SECRET3', 'wrong-secret-QWERTYUIOP'];

/** Short retry delays: the failure tests would otherwise wait out the production backoff. */
const FAST_RETRY: S3UploaderOptions = { minDelayMs: 20, maxDelayMs: 50, connectTimeoutMs: 2000 };

let sim: Simulator;
let s3: S3Server;
let client: A1111Client;
let lists: A1111Lists;
let jobNo = 0;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, stepMs: 0 });
  s3 = await startS3Server(['env-bucket', 'job-bucket'], [ENV_KEY, JOB_KEY]);
  client = new A1111Client(a1111Config({ url: sim.url, readyTimeoutMs: 5000, requestTimeoutMs: 60_000 }), silentLog);
  lists = new A1111Lists(client, silentLog);
});
afterAll(async () => {
  await sim.close();
  await s3.close();
});

/** A Log that keeps every line (to search for secrets). */
function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string, requestId?: string | null, extra?: Record<string, unknown>) => {
    lines.push(`${level} ${requestId ?? ''} ${message} ${extra ? JSON.stringify(extra) : ''}`);
  };
  return { lines, trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

function expectNoSecret(text: string): void {
  for (const s of SECRETS) expect(text, `"${s}" leaked`).not.toContain(s);
}

const ctx = (): JobContext => ({ signal: new AbortController().signal, rawJson: (bytes) => new RawJson(bytes), progress: () => undefined, stream: async () => undefined });

/** The env bucket (`BUCKET_*` as config.ts reads them) on the test's s3rver. */
function envBucket(over: Partial<NonNullable<OutputConfig['bucket']>> = {}): NonNullable<OutputConfig['bucket']> {
  return { endpointUrl: s3.url, accessKeyId: ENV_KEY[0], secretAccessKey: ENV_KEY[1], bucketName: 'env-bucket', ...over };
}

/** A job's RunPod `s3Config` on the test's s3rver. */
function jobS3Config(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { accessId: JOB_KEY[0], accessSecret: JOB_KEY[1], bucketName: 'job-bucket', endpointUrl: s3.url, ...over };
}

interface RunResult {
  out: Record<string, unknown>;
  raw: unknown;
  log: Log & { lines: string[] };
  id: string;
  /** generation calls made to the simulator by this job */
  generations: number;
}

/** Runs one job through a handler with `output` settings; the output parsed (RawJson or plain). */
async function run(
  input: Record<string, unknown>,
  opts: { output?: Partial<OutputConfig>; s3Config?: unknown; s3?: S3UploaderOptions; id?: string } = {},
): Promise<RunResult> {
  const log = recordingLog();
  const output: OutputConfig = { maxResultBytes: 19 * MiB, urlExpiresS: 604_800, ...opts.output };
  const handler = createA1111Handler({ client, limits: LIMITS, log, lists, output, s3: { ...FAST_RETRY, ...opts.s3 } });
  const id = opts.id ?? `s3-job-${++jobNo}`;
  const before = sim.requests.filter((r) => /txt2img|img2img|extra-/.test(r.path)).length;
  const raw = await handler({ id, input, ...(opts.s3Config !== undefined ? { s3Config: opts.s3Config } : {}) }, ctx());
  const out = (raw instanceof RawJson ? JSON.parse(raw.bytes.toString('utf8')) : raw) as Record<string, unknown>;
  const generations = sim.requests.filter((r) => /txt2img|img2img|extra-/.test(r.path)).length - before;
  return { out, raw, log, id, generations };
}

/** Downloads a presigned URL with plain HTTP (no SDK). */
async function download(url: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get('content-type'), bytes: Buffer.from(await r.arrayBuffer()) };
}

/** Asserts every URL is a presigned GET of `<bucket>/<id>/<i>.png`, valid 7 days, whose bytes are the base64 image's. */
async function expectUploaded(urls: unknown, base64: unknown, bucket: string, id: string, expiresS = 604_800): Promise<void> {
  expect(Array.isArray(urls) && Array.isArray(base64)).toBe(true);
  const u = urls as string[];
  const b = base64 as string[];
  expect(u).toHaveLength(b.length);
  for (let i = 0; i < u.length; i++) {
    const url = new URL(u[i]!);
    expect(`${url.origin}${url.pathname}`).toBe(`${s3.url}/${bucket}/${id}/${i}.png`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(expiresS));
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    const got = await download(u[i]!);
    expect(got.status).toBe(200);
    expect(got.type).toBe('image/png');
    expect(got.bytes.equals(Buffer.from(b[i]!, 'base64'))).toBe(true);
  }
}

const txt2img = (payload: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload, ...extra });
const SMALL = { prompt: 'a lighthouse at dusk', steps: 2, width: 128, height: 128, batch_size: 3, seed: 1234, subseed: 42 };

/** A1111's `info` without its `job_timestamp` (the second it ran), to compare two runs. */
const infoOf = (out: Record<string, unknown>): unknown => String(out.info).replace(/"job_timestamp": "\d+"/, '');

/** A noisy RGB PNG (compresses badly: about 3 bytes per pixel), deterministic. */
function noisyPng(width: number, height: number, seed: number): Buffer {
  const png = new PNG({ width, height, colorType: 2 });
  let x = seed >>> 0 || 1;
  for (let i = 0; i < png.data.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    png.data[i] = (i & 3) === 3 ? 255 : x & 0xff;
  }
  return PNG.sync.write(png, { colorType: 2 });
}

/**
 * An HTTP proxy in front of s3rver (which does not check SigV4 signatures, so the changed Host is accepted). Every
 * PUT goes to `onPut`, which answers it itself or calls `pass` (at once or later) to forward it.
 */
async function s3Proxy(onPut: (req: http.IncomingMessage, res: http.ServerResponse, pass: () => void) => void): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const up = http.request({ host: '127.0.0.1', port: s3.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  };
  const proxy = http.createServer((req, res) => (req.method === 'PUT' ? onPut(req, res, () => forward(req, res)) : forward(req, res)));
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, close: () => new Promise<void>((resolve) => proxy.close(() => resolve())) };
}

describe('outputs to S3', () => {
  it('env bucket: images uploaded under <job id>/<i>.png, presigned URLs (7 days) in place of base64; info and parameters kept', async () => {
    const base = await run(txt2img(SMALL, { output: 'base64' }), { output: { bucket: envBucket() } });
    expect((base.out.images as string[]).every((s) => s.startsWith('iVBORw0KGgo'))).toBe(true);
    const up = await run(txt2img(SMALL), { output: { bucket: envBucket() } });
    expect(Object.keys(up.out)).toEqual(Object.keys(base.out)); // same shape: images, parameters, info
    expect(infoOf(up.out)).toEqual(infoOf(base.out));
    expect(up.out.parameters).toEqual(base.out.parameters);
    await expectUploaded(up.out.images, base.out.images, 'env-bucket', up.id);
    expect(up.log.lines.join('\n')).toMatch(/Uploaded 3 images \(\d+ bytes\) to env-bucket\/s3-job-\d+\/ \(BUCKET_\*\)/);
    expectNoSecret(up.log.lines.join('\n'));
    // A presigned URL names its access key id (SigV4's X-Amz-Credential), never the secret.
    expect(new URL((up.out.images as string[])[0]!).searchParams.get('X-Amz-Credential')).toMatch(new RegExp(`^${ENV_KEY[0]}/\\d{8}/us-east-1/s3/aws4_request$`));
    expect(JSON.stringify(up.out)).not.toContain(ENV_KEY[1]);
  });

  it('a job\'s s3Config wins over the env bucket; without any env bucket it is used too', async () => {
    const base = await run(txt2img(SMALL, { output: 'base64' }));
    const withEnv = await run(txt2img(SMALL), { output: { bucket: envBucket() }, s3Config: jobS3Config() });
    await expectUploaded(withEnv.out.images, base.out.images, 'job-bucket', withEnv.id);
    // Bare txt2img input (the official worker's shape) with the flag, no env bucket, bucket in a path-style URL.
    const bare = await run({ ...SMALL, output: 's3' }, { s3Config: jobS3Config({ bucketName: undefined, endpointUrl: `${s3.url}/job-bucket` }) });
    await expectUploaded(bare.out.images, base.out.images, 'job-bucket', bare.id);
    expectNoSecret(withEnv.log.lines.join('\n') + bare.log.lines.join('\n'));
  });

  it('S3_URL_EXPIRES_S sets the URLs\' lifetime; JPEG / WebP would get their own extension (sniffed, see unit tests)', async () => {
    const base = await run(txt2img({ ...SMALL, batch_size: 1 }, { output: 'base64' }));
    const up = await run(txt2img({ ...SMALL, batch_size: 1 }), { output: { bucket: envBucket(), urlExpiresS: 3600 } });
    await expectUploaded(up.out.images, base.out.images, 'env-bucket', up.id, 3600);
  });

  it('"output": "base64" never uploads: A1111\'s bytes pass through untouched', async () => {
    const r = await run(txt2img(SMALL, { output: 'base64' }), { output: { bucket: envBucket() }, s3Config: jobS3Config() });
    expect(r.raw).toBeInstanceOf(RawJson);
    expect((r.out.images as string[]).every((s) => s.startsWith('iVBORw0KGgo'))).toBe(true);
    expect(r.log.lines.join('\n')).not.toMatch(/Uploaded/);
  });

  it('no bucket and no flag: base64 pass-through (the fast path returns A1111\'s bytes)', async () => {
    const r = await run(txt2img(SMALL));
    expect(r.raw).toBeInstanceOf(RawJson);
    expect((r.out.images as string[])).toHaveLength(3);
  });

  it('"output": "s3" without any bucket, or on a route without images, is refused before A1111 is called', async () => {
    const none = await run(txt2img(SMALL, { output: 's3' }));
    expect(none.generations).toBe(0);
    expect(none.out.error).toBe(
      'input.output: "s3" needs a bucket: set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY (and BUCKET_NAME) on the endpoint, or send s3Config {"accessId", "accessSecret", "bucketName", "endpointUrl"} with the job',
    );
    const models = await run({ api: { method: 'GET', endpoint: '/sdapi/v1/sd-models' }, output: 's3' }, { output: { bucket: envBucket() } });
    expect(models.out.error).toMatch(/^input\.output: "s3" is only for routes that return images .* not GET \/sdapi\/v1\/sd-models$/);
    const bad = await run(txt2img(SMALL, { output: 'url' }));
    expect(bad.out.error).toBe('input.output: "url" is not allowed (must be "base64" or "s3")');
    expect(bad.generations).toBe(0);
    // Other routes are unaffected by a bucket (nothing to upload).
    const ok = await run({ api: { method: 'GET', endpoint: '/sdapi/v1/sd-models' } }, { output: { bucket: envBucket() } });
    expect(Array.isArray(ok.raw instanceof RawJson ? ok.out : ok.raw)).toBe(true);
  });

  it('a malformed s3Config is refused with the field named and no value shown', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['https://bucket.example.com', /^s3Config must be an object \{"accessId", "accessSecret", "bucketName", "endpointUrl"\}, got string$/],
      [jobS3Config({ accessSecret: 7 }), /^s3Config\.accessSecret must be a non-empty string/],
      [jobS3Config({ accessId: '' }), /^s3Config\.accessId must be a non-empty string/],
      [jobS3Config({ endpointUrl: 'ftp://files.example.com' }), /^s3Config: s3Config\.endpointUrl must be an http:\/\/ or https:\/\/ URL/],
      [jobS3Config({ endpointUrl: `http://${JOB_KEY[0]}:${JOB_KEY[1]}@127.0.0.1:1/b` }), /^s3Config: s3Config\.endpointUrl must not contain user:password@/],
      [jobS3Config({ bucketName: undefined }), /^s3Config: no bucket name: set s3Config\.bucketName, or put the bucket in s3Config\.endpointUrl/],
    ];
    for (const [s3Config, message] of cases) {
      const r = await run(txt2img(SMALL), { s3Config });
      expect(r.out.error).toMatch(message);
      expect(r.generations).toBe(0);
      expectNoSecret(String(r.out.error) + r.log.lines.join('\n'));
    }
  });

  it('env BUCKET_* without a bucket name: image jobs fail with the reason (never a silent base64 fallback)', async () => {
    const r = await run(txt2img(SMALL), { output: { bucket: envBucket({ bucketName: undefined }) } });
    expect(r.out.error).toMatch(/^the endpoint's bucket settings are unusable: no bucket name: set BUCKET_NAME, or put the bucket in BUCKET_ENDPOINT_URL .*\(send "output": "base64" to get base64 images instead\)$/);
    expect(r.generations).toBe(0);
    expect(r.log.lines.some((l) => l.startsWith('ERROR') && l.includes('Bucket settings unusable'))).toBe(true);
    const b64 = await run(txt2img(SMALL, { output: 'base64' }), { output: { bucket: envBucket({ bucketName: undefined }) } });
    expect((b64.out.images as string[])).toHaveLength(3);
  });

  it('extras: extra-single-image `image` and extra-batch-images `images` are uploaded too', async () => {
    const img = noisyPng(64, 64, 7).toString('base64');
    const single = { api: { method: 'POST', endpoint: '/sdapi/v1/extra-single-image' }, payload: { image: img, upscaling_resize: 2, upscaler_1: 'Lanczos' } };
    const base = await run({ ...single, output: 'base64' });
    const up = await run(single, { output: { bucket: envBucket() } });
    expect(typeof up.out.image).toBe('string');
    await expectUploaded([up.out.image], [base.out.image], 'env-bucket', up.id);
    expect(up.out.html_info).toEqual(base.out.html_info);
    const batch = { api: { method: 'POST', endpoint: '/sdapi/v1/extra-batch-images' }, payload: { imageList: [{ data: img, name: 'a.png' }, { data: img, name: 'b.png' }], upscaling_resize: 2, upscaler_1: 'Lanczos' } };
    const baseB = await run({ ...batch, output: 'base64' });
    const upB = await run(batch, { s3Config: jobS3Config() });
    await expectUploaded(upB.out.images, baseB.out.images, 'job-bucket', upB.id);
  });
});

describe('upload failures fail the job with the reason, never a silent loss, never a credential', () => {
  it('S3 server down (connection refused): FAILED with the reason after the retries', async () => {
    const port = await closedPort();
    const r = await run(txt2img(SMALL), { output: { bucket: envBucket({ endpointUrl: `http://127.0.0.1:${port}` }) }, s3: { retries: 1 } });
    expect(r.out.error).toMatch(new RegExp(`^S3 upload of image \\d to env-bucket/${r.id}/\\d\\.png failed: .*ECONNREFUSED.*\\(2 attempts\\)$`));
    expect(r.out).not.toHaveProperty('images');
    expect(r.log.lines.some((l) => l.startsWith('WARN') && /failed \(attempt 1, 1 retries left\)/.test(l))).toBe(true);
    expectNoSecret(String(r.out.error) + r.log.lines.join('\n'));
  });

  it('wrong credentials (unknown access key): FAILED at once with S3\'s reason, no retry, no credential', async () => {
    const r = await run(txt2img(SMALL), { s3Config: jobS3Config({ accessId: 'AKIAWRONGKEY0SECRET3', accessSecret: 'wrong-secret-QWERTYUIOP' }) });
    expect(r.out.error).toMatch(
      new RegExp(`^S3 upload of image \\d to job-bucket/${r.id}/\\d\\.png failed: InvalidAccessKeyId \\(HTTP 403\\): The AWS Access Key Id you provided does not exist in our records\\.$`),
    );
    expectNoSecret(String(r.out.error) + r.log.lines.join('\n'));
  });

  it('a missing bucket: FAILED with NoSuchBucket', async () => {
    const r = await run(txt2img(SMALL), { s3Config: jobS3Config({ bucketName: 'no-such-bucket' }) });
    expect(r.out.error).toMatch(/^S3 upload of image \d to no-such-bucket\/s3-job-\d+\/\d\.png failed: NoSuchBucket \(HTTP 404\)/);
  });

  it('transient 5xx answers are retried and the upload succeeds', async () => {
    // The proxy answers 503 to the first 4 PUTs.
    let failPuts = 4;
    let puts = 0;
    const proxy = await s3Proxy((req, res, pass) => {
      puts++;
      if (failPuts-- <= 0) return pass();
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    });
    try {
      const base = await run(txt2img({ ...SMALL, batch_size: 1 }, { output: 'base64' }));
      const r = await run(txt2img({ ...SMALL, batch_size: 1 }), { s3Config: jobS3Config({ endpointUrl: proxy.url }) });
      expect(r.out.error).toBeUndefined();
      expect(puts).toBe(5); // 3 SDK attempts, then p-retry: 2 more
      const urls = (r.out.images as string[]).map((u) => u.replace(`127.0.0.1:${proxy.port}`, `127.0.0.1:${s3.port}`));
      await expectUploaded(urls, base.out.images, 'job-bucket', r.id);
    } finally {
      await proxy.close();
    }
  });

  it('a job\'s uploads run in parallel, at most `concurrency` at a time', async () => {
    // PUTs are held until two are under way, then let through together: the job only finishes if the uploader
    // runs two at once, and the most seen in flight shows it never runs more.
    let inFlight = 0;
    let most = 0;
    const held: Array<() => void> = [];
    const proxy = await s3Proxy((_req, res, pass) => {
      inFlight++;
      most = Math.max(most, inFlight);
      res.on('close', () => inFlight--);
      held.push(pass);
      if (held.length === 2) for (const go of held.splice(0)) go();
    });
    try {
      const r = await run(txt2img({ ...SMALL, batch_size: 6 }), { s3Config: jobS3Config({ endpointUrl: proxy.url }), s3: { concurrency: 2 } });
      expect(r.out.error).toBeUndefined();
      expect(r.out.images).toHaveLength(6);
      expect(most).toBe(2);
    } finally {
      await proxy.close();
    }
  });
});

describe('a stopped job stops its uploads', () => {
  it('aborting the job signal during a hanging upload ends the handler at once (the runtime then posts nothing)', async () => {
    const sockets = new Set<Socket>();
    const hang = http.createServer((req) => req.resume()); // never answers
    hang.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const port = (hang.address() as AddressInfo).port;
    try {
      const handler = createA1111Handler({ client, limits: LIMITS, log: silentLog, lists, output: { maxResultBytes: 19 * MiB, urlExpiresS: 600 }, s3: FAST_RETRY });
      const abort = new AbortController();
      const job = handler(
        { id: 'stopped-1', input: txt2img(SMALL), s3Config: jobS3Config({ endpointUrl: `http://127.0.0.1:${port}` }) },
        { ...ctx(), signal: abort.signal },
      );
      await until(() => sockets.size > 0, 'uploads under way');
      const t0 = Date.now();
      abort.abort(new Error('job stopped'));
      await expect(job).rejects.toThrow('job stopped');
      expect(Date.now() - t0).toBeLessThan(3000); // at once (the upload hangs forever)
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => hang.close(resolve));
    }
  });
});

describe('output size guard (MAX_RESULT_MB)', () => {
  it('a 16 × 1024² result (~40 MB) over a small limit is uploaded when a bucket exists', async () => {
    const big = { prompt: 'a large batch', steps: 2, width: 1024, height: 1024, batch_size: 16, seed: 99 };
    const r = await run(txt2img(big), { output: { bucket: envBucket(), maxResultBytes: 1 * MiB } });
    expect(r.out.error).toBeUndefined();
    const urls = r.out.images as string[];
    expect(urls).toHaveLength(16);
    expect(JSON.stringify(r.out).length).toBeLessThan(1 * MiB);
    let total = 0;
    for (let i = 0; i < urls.length; i++) {
      const got = await download(urls[i]!);
      expect(got.status).toBe(200);
      expect(got.bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      total += got.bytes.length;
    }
    expect(total).toBeGreaterThan(16 * MiB);
  });

  it('without a bucket, the too-large result FAILS with the size, the limit and how to configure a bucket', async () => {
    const big = { prompt: 'a large batch', steps: 2, width: 1024, height: 1024, batch_size: 16, seed: 99 };
    const r = await run(txt2img(big), { output: { maxResultBytes: 19 * MiB } });
    const error = String(r.out.error);
    expect(error).toMatch(/^result too large to return: \d+\.\d MB \(\d+ bytes\) as JSON is over the limit of 19 MiB \(19922944 bytes, MAX_RESULT_MB=19\); RunPod loses results over ~20 MB\. /);
    for (const s of ['BUCKET_ENDPOINT_URL', 'BUCKET_ACCESS_KEY_ID', 'BUCKET_SECRET_ACCESS_KEY', 'BUCKET_NAME', 's3Config', '"output": "s3"']) expect(error).toContain(s);
    expect(error).not.toMatch(/[\n\r]/);
    expect(r.out).not.toHaveProperty('images');
    expect(r.log.lines.some((l) => l.startsWith('ERROR') && l.includes('result too large'))).toBe(true);
  });

  it('with a bucket but "output": "base64", the message says to drop the flag', async () => {
    const r = await run(txt2img({ ...SMALL, batch_size: 2 }, { output: 'base64' }), { output: { bucket: envBucket(), maxResultBytes: 4096 } });
    expect(String(r.out.error)).toMatch(/^result too large to return: .* This job asked for "output": "base64": leave it out, or send "output": "s3", to get the images as presigned URLs from the bucket\.$/);
  });

  it('without a bucket: img2img echoes of the input images (include_init_images) are dropped so the result fits', async () => {
    const init = noisyPng(768, 768, 3).toString('base64'); // ~2.4 MB of base64
    const mask = `data:image/png;base64,${noisyPng(256, 256, 5).toString('base64')}`;
    const payload = { prompt: 'repaint', steps: 2, width: 128, height: 128, seed: 5, subseed: 6, init_images: [init], mask, denoising_strength: 0.5, include_init_images: true };
    const input = { api: { method: 'POST', endpoint: '/sdapi/v1/img2img' }, payload };
    const full = await run(input, { output: { maxResultBytes: 19 * MiB } });
    expect(full.raw).toBeInstanceOf(RawJson); // fits: untouched, echoes included
    const params = full.out.parameters as Record<string, unknown>;
    expect(params.init_images).toEqual([init]);
    const fullSize = (full.raw as RawJson).bytes.length;
    expect(fullSize).toBeGreaterThan(2 * MiB);

    const trimmed = await run(input, { output: { maxResultBytes: 1 * MiB } });
    expect(trimmed.out.error).toBeUndefined();
    expect(trimmed.out.images).toEqual(full.out.images);
    expect(infoOf(trimmed.out)).toEqual(infoOf(full.out));
    expect(trimmed.out.parameters).toEqual({ ...params, init_images: null, mask: null });
    expect(trimmed.log.lines.some((l) => l.startsWith('WARN') && l.includes('input image echoes replaced by null (parameters.init_images, parameters.mask)'))).toBe(true);

    // Still too big without the echoes: FAILED, saying what was tried.
    const failed = await run(input, { output: { maxResultBytes: 8 * 1024 } });
    expect(String(failed.out.error)).toMatch(/^result too large to return: .* as JSON, without the input images echoed in parameters \(2 fields\), is over the limit of 8192 bytes; .*BUCKET_ENDPOINT_URL/);
  });
});

describe('OutputStage on its own (the entry point the handler calls once A1111 answered)', () => {
  const answerOf = (value: unknown) => ({ status: 200, body: Buffer.from(JSON.stringify(value)) });
  const images = [noisyPng(16, 16, 1), noisyPng(16, 16, 2)].map((b) => b.toString('base64'));

  it('uploads the answer\'s images to the job\'s bucket and gives a dialect\'s reshape the URLs', async () => {
    const log = recordingLog();
    const stage = new OutputStage({ output: { maxResultBytes: 19 * MiB, urlExpiresS: 3600 }, log, s3: FAST_RETRY });
    const route = resolveRoute('POST', '/sdapi/v1/txt2img');
    const plan = stage.plan(route, undefined, jobS3Config());
    const job = { id: `stage-${++jobNo}`, route, plan, signal: new AbortController().signal, rawJson: (b: Buffer) => new RawJson(b) };
    const out = (await stage.shape(answerOf({ images, parameters: {}, info: '{}' }), job)) as RawJson;
    const shaped = JSON.parse(out.bytes.toString('utf8')) as Record<string, unknown>;
    expect(shaped.info).toBe('{}');
    await expectUploaded(shaped.images, images, 'job-bucket', job.id, 3600);

    let uploaded: boolean | undefined;
    const reshape = (answer: Record<string, unknown>, up: boolean) => {
      uploaded = up;
      return { data: (answer.images as string[]).map((url) => ({ url })) };
    };
    const dialect = (await stage.shape(answerOf({ images, info: '{}' }), { ...job, id: `stage-${++jobNo}`, reshape })) as RawJson;
    const data = (JSON.parse(dialect.bytes.toString('utf8')) as { data: Array<{ url: string }> }).data;
    expect(uploaded).toBe(true);
    expect(data).toHaveLength(2);
    expect(data[0]!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/job-bucket\/stage-\d+\/0\.png\?/);
    for (const line of log.lines) expectNoSecret(line);
    await stage.close();
  });
});
