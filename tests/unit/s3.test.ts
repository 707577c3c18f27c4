/**
 * Bucket resolution (virtual-hosted / path-style endpoints, regions, addressing), the job's `s3Config`
 * (handler/jobs/output/bucket.ts), image sniffing and object keys (handler/jobs/output/object-keys.ts).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { JobInputError } from '../../handler/errors/index.js';
import { BucketConfigError } from '../../handler/errors/index.js';
import { DEFAULT_REGION, parseJobS3Config, regionFromHost, resolveBucket, splitVirtualHost, type BucketSettings } from '../../handler/jobs/output/bucket.js';
import { jobKeyPrefix, objectKey, sniffImage } from '../../handler/jobs/output/object-keys.js';
import { gifBytes, jpegBytes, pngBytes, webpExtendedBytes, webpLosslessBytes, webpLossyBytes } from './image-fixtures.js';

const KEYS = { accessKeyId: 'AKIAUNITTEST0KEYID', secretAccessKey: 'unit-secret-0123456789abcdef' };
const env = (endpointUrl: string, over: Partial<BucketSettings> = {}): BucketSettings => ({ endpointUrl, ...KEYS, ...over });
/** The resolved target's public parts. */
const view = (endpointUrl: string, over: Partial<BucketSettings> = {}) => {
  const t = resolveBucket(env(endpointUrl, over), 'env');
  return { endpoint: t.endpoint, bucket: t.bucket, region: t.region, forcePathStyle: t.forcePathStyle };
};

describe('resolveBucket: bucket, endpoint, region, addressing', () => {
  it('a virtual-hosted AWS URL gives the bucket (first label) and the region; the endpoint drops the bucket', () => {
    expect(view('https://my-outputs.s3.eu-west-2.amazonaws.com')).toEqual({ endpoint: 'https://s3.eu-west-2.amazonaws.com', bucket: 'my-outputs', region: 'eu-west-2', forcePathStyle: false });
    expect(view('https://my-outputs.s3.amazonaws.com')).toEqual({ endpoint: 'https://s3.amazonaws.com', bucket: 'my-outputs', region: 'us-east-1', forcePathStyle: false });
    expect(view('https://my-outputs.s3-us-west-2.amazonaws.com/')).toEqual({ endpoint: 'https://s3-us-west-2.amazonaws.com', bucket: 'my-outputs', region: 'us-west-2', forcePathStyle: false });
    expect(view('https://b1.s3.dualstack.ap-south-1.amazonaws.com')).toMatchObject({ bucket: 'b1', region: 'ap-south-1' });
  });

  it('other providers: DigitalOcean, Backblaze B2, Wasabi, Cloudflare R2, Linode — path-style off AWS', () => {
    expect(view('https://renders.nyc3.digitaloceanspaces.com')).toEqual({ endpoint: 'https://nyc3.digitaloceanspaces.com', bucket: 'renders', region: 'nyc3', forcePathStyle: true });
    expect(view('https://renders.s3.us-west-004.backblazeb2.com')).toEqual({ endpoint: 'https://s3.us-west-004.backblazeb2.com', bucket: 'renders', region: 'us-west-004', forcePathStyle: true });
    expect(view('https://renders.s3.eu-central-1.wasabisys.com')).toMatchObject({ bucket: 'renders', region: 'eu-central-1', forcePathStyle: true });
    expect(view('https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com', { bucketName: 'renders' })).toEqual({
      endpoint: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com',
      bucket: 'renders',
      region: 'auto',
      forcePathStyle: true,
    });
    expect(view('https://renders.0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com')).toMatchObject({ endpoint: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com', bucket: 'renders', region: 'auto' });
    expect(view('https://renders.us-east-1.linodeobjects.com')).toMatchObject({ endpoint: 'https://us-east-1.linodeobjects.com', bucket: 'renders', region: 'us-east-1' });
  });

  it('BUCKET_NAME with a plain endpoint; a path-style URL names the bucket in its path', () => {
    expect(view('http://127.0.0.1:9000', { bucketName: 'outputs' })).toEqual({ endpoint: 'http://127.0.0.1:9000', bucket: 'outputs', region: 'us-east-1', forcePathStyle: true });
    expect(view('http://minio.internal:9000/outputs/')).toEqual({ endpoint: 'http://minio.internal:9000', bucket: 'outputs', region: 'us-east-1', forcePathStyle: true });
    expect(view('http://[::1]:9000/outputs')).toMatchObject({ endpoint: 'http://[::1]:9000', bucket: 'outputs' });
    expect(view('https://s3.eu-west-1.amazonaws.com', { bucketName: 'outputs' })).toEqual({ endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'outputs', region: 'eu-west-1', forcePathStyle: false });
    // The same name twice is fine.
    expect(view('https://outputs.s3.eu-west-1.amazonaws.com', { bucketName: 'outputs' })).toMatchObject({ endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'outputs' });
  });

  it('BUCKET_NAME wins over a host that merely looks virtual-hosted (the host is then kept)', () => {
    expect(view('https://files.s3.example.com', { bucketName: 'outputs' })).toEqual({ endpoint: 'https://files.s3.example.com', bucket: 'outputs', region: DEFAULT_REGION, forcePathStyle: true });
  });

  it('BUCKET_REGION wins over the host\'s region; the default is us-east-1', () => {
    expect(view('https://b.s3.eu-west-2.amazonaws.com', { region: 'eu-north-1' }).region).toBe('eu-north-1');
    expect(view('https://minio.example.com', { bucketName: 'b' }).region).toBe('us-east-1');
  });

  it('refusals name the variable (env) or the field (job), never a credential', () => {
    const refused = (url: string, over: Partial<BucketSettings> = {}, source: 'env' | 'job' = 'env'): string => {
      try {
        resolveBucket(env(url, over), source);
      } catch (e) {
        expect(e).toBeInstanceOf(BucketConfigError);
        const m = (e as Error).message;
        expect(m).not.toContain(KEYS.accessKeyId);
        expect(m).not.toContain(KEYS.secretAccessKey);
        return m;
      }
      throw new Error(`not refused: ${url}`);
    };
    expect(refused('https://minio.example.com')).toBe(
      'no bucket name: set BUCKET_NAME, or put the bucket in BUCKET_ENDPOINT_URL (virtual-hosted https://<bucket>.s3.<region>.amazonaws.com, or path-style http(s)://host[:port]/<bucket>)',
    );
    expect(refused('https://s3.us-east-1.amazonaws.com')).toMatch(/^no bucket name/); // "s3" is not a bucket
    expect(refused('https://minio.example.com', {}, 'job')).toMatch(/^no bucket name: set s3Config\.bucketName, or put the bucket in s3Config\.endpointUrl/);
    expect(refused('not a url')).toBe('BUCKET_ENDPOINT_URL is not a URL (allowed: http(s)://host[:port][/bucket])');
    expect(refused('ftp://files.example.com/b')).toBe('BUCKET_ENDPOINT_URL must be an http:// or https:// URL, got a "ftp:" URL');
    expect(refused(`https://${KEYS.accessKeyId}:${KEYS.secretAccessKey}@minio.example.com/b`)).toMatch(/^BUCKET_ENDPOINT_URL must not contain user:password@/);
    expect(refused('https://minio.example.com/b?x=1')).toMatch(/must not have a query or a fragment/);
    expect(refused('https://minio.example.com/b/prefix')).toBe('BUCKET_ENDPOINT_URL has the path "/b/prefix": only a bucket name is allowed there (http(s)://host[:port]/<bucket>)');
    expect(refused('https://minio.example.com/one', { bucketName: 'two' })).toBe('BUCKET_ENDPOINT_URL and BUCKET_NAME name different buckets ("one" and "two")');
  });

  it('the target never shows its credentials (inspect, JSON, string); it redacts them from text', () => {
    const t = resolveBucket(env('https://b.s3.eu-west-2.amazonaws.com'), 'env');
    for (const shown of [inspect(t, { depth: 5, showHidden: true }), JSON.stringify({ t }), String(t), `${t.toString()}`]) {
      expect(shown).not.toContain(KEYS.accessKeyId);
      expect(shown).not.toContain(KEYS.secretAccessKey);
    }
    expect(String(t)).toBe('bucket "b" at https://s3.eu-west-2.amazonaws.com (virtual-hosted, eu-west-2)');
    expect(t.credentials()).toEqual(KEYS);
    expect(t.redact(`key ${KEYS.accessKeyId} secret ${KEYS.secretAccessKey}`)).toBe('key [REDACTED] secret [REDACTED]');
  });
});

describe('splitVirtualHost / regionFromHost', () => {
  it('splits only known S3 service hosts', () => {
    expect(splitVirtualHost('bucket.s3.amazonaws.com')).toEqual({ bucket: 'bucket', serviceHost: 's3.amazonaws.com' });
    expect(splitVirtualHost('s3.amazonaws.com')).toBeUndefined();
    expect(splitVirtualHost('s3.eu-west-1.amazonaws.com')).toBeUndefined();
    expect(splitVirtualHost('minio.example.com')).toBeUndefined();
    expect(splitVirtualHost('127.0.0.1')).toBeUndefined();
    expect(splitVirtualHost('localhost')).toBeUndefined();
    expect(splitVirtualHost('a.s3.local')).toBeUndefined(); // s3.local: not enough labels for a service host
  });

  it('parses regions as runpod-python\'s rp_upload.py does', () => {
    const table: Array<[string, string | undefined]> = [
      ['s3.us-east-2.amazonaws.com', 'us-east-2'],
      ['s3-eu-west-1.amazonaws.com', 'eu-west-1'],
      ['s3.amazonaws.com', 'us-east-1'],
      ['s3-external-1.amazonaws.com', 'us-east-1'],
      ['s3-accelerate.amazonaws.com', undefined],
      ['s3.dualstack.eu-central-1.amazonaws.com', 'eu-central-1'],
      ['ams3.digitaloceanspaces.com', 'ams3'],
      ['s3.fr-par.scw.cloud', 'fr-par'],
      ['s3.wasabisys.com', undefined],
      ['abc.r2.cloudflarestorage.com', 'auto'],
      ['minio.example.com', undefined],
      ['127.0.0.1', undefined],
    ];
    for (const [host, region] of table) expect(regionFromHost(host), host).toBe(region);
  });
});

describe('parseJobS3Config (RunPod s3Config, docs/runpod-protocol.md "Job JSON shape (job-take response / handler argument)")', () => {
  it('reads the four keys; bucketName optional; other keys ignored; null = none', () => {
    expect(parseJobS3Config({ accessId: 'id1', accessSecret: 's1', bucketName: 'b', endpointUrl: 'https://x', objectPath: 'p' })).toEqual({
      accessKeyId: 'id1',
      secretAccessKey: 's1',
      bucketName: 'b',
      endpointUrl: 'https://x',
    });
    expect(parseJobS3Config({ accessId: 'id1', accessSecret: 's1', endpointUrl: 'https://b.s3.amazonaws.com' })).toEqual({ accessKeyId: 'id1', secretAccessKey: 's1', endpointUrl: 'https://b.s3.amazonaws.com' });
    expect(parseJobS3Config(undefined)).toBeUndefined();
    expect(parseJobS3Config(null)).toBeUndefined();
  });

  it('refuses with the field named and no value', () => {
    const msg = (v: unknown): string => {
      try {
        parseJobS3Config(v);
      } catch (e) {
        expect(e).toBeInstanceOf(JobInputError);
        return (e as Error).message;
      }
      throw new Error('not refused');
    };
    expect(msg([1])).toBe('s3Config must be an object {"accessId", "accessSecret", "bucketName", "endpointUrl"}, got an array');
    expect(msg({ accessId: 'SECRETVALUE1', accessSecret: '', endpointUrl: 'https://x' })).toBe(
      's3Config.accessSecret must be a non-empty string (s3Config is {"accessId", "accessSecret", "bucketName", "endpointUrl"}; values are not shown)',
    );
    expect(msg({ accessSecret: 'SECRETVALUE2', endpointUrl: 'https://x' })).toMatch(/^s3Config\.accessId must be a non-empty string/);
    expect(msg({ accessId: 'a', accessSecret: 'SECRETVALUE3' })).toMatch(/^s3Config\.endpointUrl must be a non-empty string/);
    expect(msg({ accessId: 'a', accessSecret: 'SECRETVALUE4', endpointUrl: 'https://x', bucketName: 3 })).toBe('s3Config.bucketName must be a string, got number');
  });
});

describe('sniffImage and object keys', () => {
  it('PNG / JPEG / WebP by their signature (image-size\'s checks); anything else is octet-stream', () => {
    expect(sniffImage(pngBytes(4, 4))).toEqual({ ext: 'png', contentType: 'image/png' });
    expect(sniffImage(jpegBytes(4, 4))).toEqual({ ext: 'jpg', contentType: 'image/jpeg' });
    expect(sniffImage(webpLossyBytes(4, 4))).toEqual({ ext: 'webp', contentType: 'image/webp' });
    expect(sniffImage(Buffer.from('<html>'))).toEqual({ ext: 'bin', contentType: 'application/octet-stream' });
    expect(sniffImage(Buffer.alloc(0))).toEqual({ ext: 'bin', contentType: 'application/octet-stream' });
  });

  it('lossless and extended WebP too; other image formats and broken heads are octet-stream', () => {
    expect(sniffImage(webpLosslessBytes(4, 4)).ext).toBe('webp');
    expect(sniffImage(webpExtendedBytes(4, 4)).ext).toBe('webp');
    expect(sniffImage(gifBytes(4, 4))).toEqual({ ext: 'bin', contentType: 'application/octet-stream' });
    // A PNG signature without its IHDR chunk, and the signature alone.
    expect(sniffImage(Buffer.concat([pngBytes(4, 4).subarray(0, 12), Buffer.from('XXXX')])).ext).toBe('bin');
    expect(sniffImage(pngBytes(4, 4).subarray(0, 8)).ext).toBe('bin');
  });

  it('reads only the bytes given, wherever they sit in their memory (small Buffers share a pool)', () => {
    // A PNG right after a JPEG in one allocation: the view of the second image must not be read as the first.
    const both = Buffer.concat([jpegBytes(4, 4), pngBytes(4, 4)]);
    const png = both.subarray(both.length - pngBytes(4, 4).length);
    expect(png.byteOffset).toBeGreaterThan(0);
    expect(sniffImage(png).ext).toBe('png');
    expect(sniffImage(Buffer.from(pngBytes(4, 4).toString('base64'), 'base64')).ext).toBe('png');
  });

  it('keys are <job id>/<index>.<ext>; odd job ids cannot make path tricks', () => {
    expect(objectKey('5e0ae067-4a83-49b5-8368-8961f7067018-u1', 2, 'png')).toBe('5e0ae067-4a83-49b5-8368-8961f7067018-u1/2.png');
    expect(objectKey('sync-abc-u1', 0, 'jpg')).toBe('sync-abc-u1/0.jpg');
    expect(jobKeyPrefix('../../etc/passwd')).toBe('.._.._etc_passwd');
    expect(jobKeyPrefix('..')).toBe('_');
    expect(jobKeyPrefix('')).toBe('_');
    expect(jobKeyPrefix('a b/c?d')).toBe('a_b_c_d');
  });
});
