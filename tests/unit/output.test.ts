/**
 * Output planning, the size guard, echo dropping and the output stage's answer checks (handler/jobs/output/) without
 * any server: uploads are covered by tests/integration/s3-output.test.ts against s3rver.
 */
import { describe, expect, it } from 'vitest';
import { JobInputError } from '../../handler/errors/index.js';
import { parseEnvelope } from '../../handler/jobs/handler.js';
import { OutputStage, type EnvBucket, type OutputJob } from '../../handler/jobs/output/output.js';
import { imageOutputKey, planOutput, resolveEnvBucket } from '../../handler/jobs/output/plan.js';
import { shapeOutput, type ShapeContext } from '../../handler/jobs/output/shape.js';
import { dropInputEchoes, RESULT_ENVELOPE_BYTES, resultTooLargeMessage } from '../../handler/jobs/output/size-guard.js';
import { resolveRoute } from '../../handler/jobs/input/routes.js';
import { S3Uploader } from '../../handler/jobs/output/uploader.js';
import { silentLog, type Log } from '../../handler/log.js';
import { RawJson } from '../../handler/runpod/index.js';

const TXT2IMG = resolveRoute('POST', '/sdapi/v1/txt2img');
const IMG2IMG = resolveRoute('POST', '/sdapi/v1/img2img');
const SINGLE = resolveRoute('POST', '/sdapi/v1/extra-single-image');
const BATCH = resolveRoute('POST', '/sdapi/v1/extra-batch-images');
const MODELS = resolveRoute('GET', '/sdapi/v1/sd-models');
const PNGINFO = resolveRoute('POST', '/sdapi/v1/png-info');

const ENV: EnvBucket = resolveEnvBucket({ bucket: { endpointUrl: 'http://127.0.0.1:9000/env-bucket', accessKeyId: 'AKIAENV', secretAccessKey: 'env-secret' } });
const S3CONFIG = { accessId: 'AKIAJOB', accessSecret: 'job-secret', bucketName: 'job-bucket', endpointUrl: 'http://127.0.0.1:9001' };

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(JobInputError);
    return (e as Error).message;
  }
  throw new Error('not refused');
}

describe('imageOutputKey', () => {
  it('images for txt2img / img2img / extra-batch-images, image for extra-single-image, none elsewhere', () => {
    expect(imageOutputKey(TXT2IMG)).toBe('images');
    expect(imageOutputKey(IMG2IMG)).toBe('images');
    expect(imageOutputKey(BATCH)).toBe('images');
    expect(imageOutputKey(SINGLE)).toBe('image');
    expect(imageOutputKey(MODELS)).toBeUndefined();
    expect(imageOutputKey(PNGINFO)).toBeUndefined();
  });
});

describe('planOutput', () => {
  it('no flag: upload to the job\'s s3Config, else the env bucket, else base64', () => {
    expect(planOutput(TXT2IMG, undefined, S3CONFIG, ENV).upload?.bucket).toBe('job-bucket');
    expect(planOutput(TXT2IMG, undefined, S3CONFIG, {}).upload?.source).toBe('job');
    expect(planOutput(TXT2IMG, undefined, undefined, ENV).upload?.bucket).toBe('env-bucket');
    expect(planOutput(TXT2IMG, undefined, null, ENV).upload?.source).toBe('env');
    expect(planOutput(TXT2IMG, undefined, undefined, {})).toEqual({ bucketAvailable: false, imageKey: 'images' });
  });

  it('"base64" never uploads (but remembers a bucket was there); "s3" needs one', () => {
    expect(planOutput(TXT2IMG, 'base64', S3CONFIG, ENV)).toEqual({ flag: 'base64', bucketAvailable: true, imageKey: 'images' });
    expect(planOutput(SINGLE, 's3', undefined, ENV)).toMatchObject({ flag: 's3', imageKey: 'image', bucketAvailable: true });
    expect(refused(() => planOutput(TXT2IMG, 's3', undefined, {}))).toMatch(/^input\.output: "s3" needs a bucket: set BUCKET_ENDPOINT_URL, /);
    expect(refused(() => planOutput(MODELS, 's3', S3CONFIG, ENV))).toBe(
      'input.output: "s3" is only for routes that return images (POST txt2img, img2img, extra-single-image, extra-batch-images), not GET /sdapi/v1/sd-models',
    );
  });

  it('routes without images: no upload, whatever the buckets', () => {
    expect(planOutput(MODELS, undefined, S3CONFIG, ENV)).toEqual({ bucketAvailable: true });
    expect(planOutput(PNGINFO, 'base64', undefined, {})).toEqual({ flag: 'base64', bucketAvailable: false });
  });

  it('unusable BUCKET_* fail image jobs without "base64" (never a silent fallback); s3Config still works', () => {
    const broken = resolveEnvBucket({ bucket: { endpointUrl: 'http://127.0.0.1:9000', accessKeyId: 'a', secretAccessKey: 'b' } });
    expect(broken.error).toMatch(/^no bucket name: set BUCKET_NAME/);
    expect(refused(() => planOutput(TXT2IMG, undefined, undefined, broken))).toMatch(/^the endpoint's bucket settings are unusable: no bucket name/);
    expect(refused(() => planOutput(TXT2IMG, 's3', undefined, broken))).toMatch(/^input\.output: "s3" but the endpoint's bucket settings are unusable: no bucket name/);
    expect(planOutput(TXT2IMG, 'base64', undefined, broken).upload).toBeUndefined();
    expect(planOutput(TXT2IMG, undefined, S3CONFIG, broken).upload?.bucket).toBe('job-bucket');
    expect(planOutput(MODELS, undefined, undefined, broken).upload).toBeUndefined();
  });

  it('a bad s3Config is refused even when it would not be used', () => {
    expect(refused(() => planOutput(TXT2IMG, 'base64', { accessId: 'a' }, {}))).toMatch(/^s3Config\.accessSecret must be a non-empty string/);
    expect(refused(() => planOutput(TXT2IMG, undefined, { ...S3CONFIG, endpointUrl: 'http://h:1/a/b' }, {}))).toMatch(/^s3Config: s3Config\.endpointUrl has the path "\/a\/b"/);
  });
});

describe('parseEnvelope: the "output" flag', () => {
  it('is read next to api/payload and in a bare txt2img input (and removed from that payload)', () => {
    expect(parseEnvelope({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: {}, output: 's3' }).options.output).toBe('s3');
    const bare = parseEnvelope({ prompt: 'x', output: 'base64' });
    expect(bare.options.output).toBe('base64');
    expect(bare.payload).toEqual({ prompt: 'x' });
    expect(parseEnvelope({ prompt: 'x' }).options.output).toBeUndefined();
  });

  it('refuses other values', () => {
    expect(refused(() => parseEnvelope({ prompt: 'x', output: 'S3' }))).toBe('input.output: "S3" is not allowed (must be "base64" or "s3")');
    expect(refused(() => parseEnvelope({ prompt: 'x', output: null }))).toBe('input.output: null is not allowed (must be "base64" or "s3")');
  });
});

const PNG_B64 = 'iVBORw0KGgo' + 'A'.repeat(400);
const JPEG_B64 = '/9j/' + 'B'.repeat(400);

describe('dropInputEchoes', () => {
  it('nulls init_images, mask, latent_mask, firstpass_image and base64 images in script args; keeps the rest', () => {
    const out = {
      images: [PNG_B64],
      parameters: {
        prompt: 'p',
        init_images: [PNG_B64, PNG_B64],
        mask: `data:image/png;base64,${PNG_B64}`,
        latent_mask: null,
        firstpass_image: '',
        alwayson_scripts: { controlnet: { args: [{ image: JPEG_B64, module: 'canny', weight: 1 }, { input_image: { image: PNG_B64, mask: null } }] }, other: { args: ['iVBORw0KGgo-short', 3] } },
        script_args: [0, `data:image/webp;base64,${'U'.repeat(300)}`],
      },
      info: '{}',
    };
    const dropped = dropInputEchoes(out);
    expect(dropped).toEqual([
      'parameters.init_images',
      'parameters.mask',
      'parameters.alwayson_scripts.controlnet.args[0].image',
      'parameters.alwayson_scripts.controlnet.args[1].input_image.image',
      'parameters.script_args[1]',
    ]);
    expect(out.images).toEqual([PNG_B64]);
    expect(out.parameters).toEqual({
      prompt: 'p',
      init_images: null,
      mask: null,
      latent_mask: null,
      firstpass_image: '',
      alwayson_scripts: { controlnet: { args: [{ image: null, module: 'canny', weight: 1 }, { input_image: { image: null, mask: null } }] }, other: { args: ['iVBORw0KGgo-short', 3] } },
      script_args: [0, null],
    });
  });

  it('does nothing without parameters', () => {
    expect(dropInputEchoes({ images: [] })).toEqual([]);
    expect(dropInputEchoes({ parameters: 'x' })).toEqual([]);
  });
});

describe('resultTooLargeMessage', () => {
  const MiB = 1024 * 1024;
  it('says the size, the limit and how to configure a bucket', () => {
    expect(resultTooLargeMessage(31_500_000, 19 * MiB, { bucketAvailable: false, imageKey: 'images' }, [])).toBe(
      'result too large to return: 31.5 MB (31500000 bytes) as JSON is over the limit of 19 MiB (19922944 bytes, MAX_RESULT_MB=19); RunPod loses results over ~20 MB. ' +
        'To get the images as presigned URLs instead, configure a bucket: set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY (and BUCKET_NAME) on the endpoint, ' +
        'or send s3Config {"accessId", "accessSecret", "bucketName", "endpointUrl"} with the job ("output": "s3" then forces the upload); or ask for fewer or smaller images.',
    );
  });
  it('names what was tried', () => {
    expect(resultTooLargeMessage(25e6, 19 * MiB, { bucketAvailable: false, imageKey: 'images' }, ['parameters.init_images'])).toMatch(
      /^result too large to return: 25\.0 MB \(25000000 bytes\) as JSON, without the input images echoed in parameters\.init_images, is over/,
    );
    expect(resultTooLargeMessage(25e6, 19 * MiB, { bucketAvailable: true, flag: 'base64', imageKey: 'images' }, [])).toMatch(/This job asked for "output": "base64": leave it out/);
    expect(resultTooLargeMessage(25e6, 19 * MiB, { bucketAvailable: false }, [])).toMatch(/This route's answer cannot be uploaded/);
  });
});

describe('shapeOutput fast path', () => {
  const ctx = (maxResultBytes: number, seen: (Buffer | readonly Buffer[])[]): ShapeContext => ({
    jobId: 'j1',
    signal: new AbortController().signal,
    rawJson: (b) => {
      seen.push(b);
      return new RawJson(b);
    },
    uploader: new S3Uploader(silentLog),
    maxResultBytes,
    urlExpiresS: 604_800,
    log: silentLog,
  });

  it('no upload and within the limit: A1111\'s very buffer is handed on (no parse, no copy)', async () => {
    const body = Buffer.from(JSON.stringify({ images: [PNG_B64], parameters: {}, info: '{}' }));
    const seen: (Buffer | readonly Buffer[])[] = [];
    const out = await shapeOutput([body], { bucketAvailable: false, imageKey: 'images' }, ctx(body.length + RESULT_ENVELOPE_BYTES, seen));
    expect(out).toBeInstanceOf(RawJson);
    expect(seen).toHaveLength(1);
    expect((seen[0] as readonly Buffer[])[0]).toBe(body);
  });

  it('an answer in parts (the socket reads it came in) is handed on as those very parts, never joined', async () => {
    const body = Buffer.from(JSON.stringify({ images: [PNG_B64], parameters: {}, info: '{}' }));
    const parts = [body.subarray(0, 7), body.subarray(7, 100), body.subarray(100)];
    const seen: (Buffer | readonly Buffer[])[] = [];
    const out = await shapeOutput(parts, { bucketAvailable: false, imageKey: 'images' }, ctx(body.length + RESULT_ENVELOPE_BYTES, seen));
    expect(seen[0]).toBe(parts);
    expect((out as RawJson).parts).toBe(parts);
    expect((out as RawJson).bytes.equals(body)).toBe(true);
    // One byte over the limit counts the parts' total.
    expect(await shapeOutput(parts, { bucketAvailable: false, imageKey: 'images' }, ctx(body.length + RESULT_ENVELOPE_BYTES - 1, []))).toEqual({ error: expect.stringMatching(/^result too large to return: /) });
  });

  it('one byte over: the guard applies ({"output":…} counted)', async () => {
    const body = Buffer.from(JSON.stringify({ images: [PNG_B64], parameters: {}, info: '{}' }));
    const out = await shapeOutput([body], { bucketAvailable: false, imageKey: 'images' }, ctx(body.length + RESULT_ENVELOPE_BYTES - 1, []));
    expect(out).toEqual({ error: expect.stringMatching(/^result too large to return: /) });
  });
});

describe('OutputStage: the one entry point (plan before A1111, shape after)', () => {
  const BUCKET = { endpointUrl: 'http://127.0.0.1:9000/env-bucket', accessKeyId: 'AKIAENV', secretAccessKey: 'env-secret' };
  const OUTPUT = { maxResultBytes: 3000, maxResultBytesRun: 1000, maxResultBytesSync: 2000, urlExpiresS: 600 };
  const lines: string[] = [];
  const log: Log = { ...silentLog, info: (m) => lines.push(`INFO ${m}`), error: (m) => lines.push(`ERROR ${m}`) };
  const stage = new OutputStage({ output: OUTPUT, log: silentLog });
  const job = (over: Partial<OutputJob> = {}): OutputJob => ({
    id: 'job-1',
    route: TXT2IMG,
    plan: stage.plan(over.route ?? TXT2IMG, undefined, undefined),
    signal: new AbortController().signal,
    rawJson: (b) => new RawJson(b),
    ...over,
  });
  const answer = (value: unknown, status = 200) => ({ status, body: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)) });

  it('resolves BUCKET_* once and says where outputs go, or why they cannot', () => {
    lines.length = 0;
    const withBucket = new OutputStage({ output: { ...OUTPUT, bucket: BUCKET }, log });
    expect(withBucket.plan(TXT2IMG, undefined, undefined).upload?.bucket).toBe('env-bucket');
    expect(withBucket.plan(TXT2IMG, 'base64', undefined).upload).toBeUndefined();
    const unusable = new OutputStage({ output: { ...OUTPUT, bucket: { ...BUCKET, endpointUrl: 'http://127.0.0.1:9000' } }, log });
    expect(unusable.envBucket.error).toMatch(/^no bucket name: set BUCKET_NAME/);
    expect(lines).toEqual([`INFO Outputs go to S3: bucket "env-bucket" at http://127.0.0.1:9000 (path-style, us-east-1)`, `ERROR Bucket settings unusable, image jobs will fail until fixed: ${unusable.envBucket.error}`]);
    expect(refused(() => unusable.plan(TXT2IMG, undefined, undefined))).toMatch(/^the endpoint's bucket settings are unusable: /);
  });

  it('passes A1111\'s bytes through untouched within the job\'s limit', async () => {
    const a = answer({ images: [PNG_B64], parameters: {}, info: '{}' });
    const out = await stage.shape(a, job({ id: 'sync-1' }));
    expect(out).toBeInstanceOf(RawJson);
    expect((out as RawJson).bytes).toBe(a.body);
  });

  it('applies the /run or /runsync limit by the job id', async () => {
    const a = answer({ images: [PNG_B64], parameters: {}, info: 'x'.repeat(700) });
    expect(a.body.length).toBeGreaterThan(1000);
    expect(a.body.length).toBeLessThan(2000);
    expect(await stage.shape(a, job({ id: 'sync-2' }))).toBeInstanceOf(RawJson);
    expect(await stage.shape(a, job({ id: 'run-2' }))).toEqual({ error: expect.stringMatching(/^result too large to return: .* is over the limit of 1000 bytes; RunPod refuses results over 10 MB for a \/run job\./) });
  });

  it('refuses answers that are not JSON, or a generation without an images list', async () => {
    expect(await stage.shape(answer('<html>oops'), job())).toEqual({ error: 'A1111 200 on POST /sdapi/v1/txt2img: answer is not JSON: "<html>oops"' });
    expect(await stage.shape(answer({ images: [1] }), job())).toEqual({ error: 'A1111 200 on POST /sdapi/v1/txt2img: answer has no "images" list of base64 strings' });
    expect(await stage.shape(answer({ info: '{}' }), job())).toEqual({ error: 'A1111 200 on POST /sdapi/v1/txt2img: answer has no "images" list of base64 strings' });
  });

  it('answers RunPod\'s result rules read (error / refresh_worker keys, {}, non-objects) are returned as the exact value', async () => {
    expect(await stage.shape(answer({ error: 'x', detail: 'y' }), job({ route: MODELS }))).toEqual({ error: 'x', detail: 'y' });
    expect(await stage.shape(answer({}), job({ route: MODELS }))).toEqual({});
    expect(await stage.shape(answer([1, 2]), job({ route: MODELS }))).toEqual([1, 2]);
    const big = await stage.shape(answer({ refresh_worker: 'z'.repeat(1000) }), job({ route: MODELS }));
    expect(big).toEqual({ error: expect.stringMatching(/^result too large to return: .*This route's answer cannot be uploaded/) });
  });

  it('a dialect\'s reshape runs once on the parsed answer (uploaded false without a bucket); a non-object answer is refused', async () => {
    const calls: Array<[unknown, boolean]> = [];
    const reshape = (a: Record<string, unknown>, uploaded: boolean) => {
      calls.push([a, uploaded]);
      return { data: [{ b64_json: (a.images as string[])[0] }] };
    };
    const out = await stage.shape(answer({ images: [PNG_B64], info: '{}' }), job({ id: 'sync-3', reshape }));
    expect(JSON.parse((out as RawJson).bytes.toString('utf8'))).toEqual({ data: [{ b64_json: PNG_B64 }] });
    expect(calls).toEqual([[{ images: [PNG_B64], info: '{}' }, false]]);
    expect(await stage.shape(answer([1]), job({ route: MODELS, reshape }))).toEqual({ error: 'A1111 200 on GET /sdapi/v1/sd-models: answer is not a JSON object' });
  });
});
