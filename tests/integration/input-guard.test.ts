/**
 * Bad input through the real job handler (createA1111Handler) against the A1111 simulator on loopback:
 * a refused job gets `{error}` and never reaches A1111 (the simulator logs no request for it), a valid one
 * is forwarded unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import type { A1111Client } from '../../handler/a1111/client.js';
import type { A1111Lists } from '../../handler/a1111/lists.js';
import { loadConfig, type LimitsConfig } from '../../handler/config.js';
import { createA1111Handler, type JobContext } from '../../handler/jobs/handler.js';
import type { HostLookup } from '../../handler/jobs/images/images.js';
import { silentLog } from '../../handler/log.js';
import { RawJson } from '../../handler/runpod/index.js';
import type { SimRequestRecord, Simulator } from '../../sim/server.js';
import { SEED_004 } from '../helpers/fixtures.js';
import { startHandlerBackends, type HandlerBackends } from '../helpers/handler-backends.js';

const LIMITS: LimitsConfig = loadConfig([], {}).limits;

/** A real 64 × 64 PNG, base64. */
function png64(): string {
  const png = new PNG({ width: 64, height: 64 });
  png.data.fill(0x40);
  return PNG.sync.write(png).toString('base64');
}
const PNG_B64 = png64();
const HTML_B64 = Buffer.from('<html><body>not an image</body></html>').toString('base64');

/** DNS for the tests: public and private names, no network. */
const fakeLookup: HostLookup = async (host) => {
  const table: Record<string, string> = { 'images.example.com': '93.184.216.34', 'intranet.example.com': '10.0.0.8', 'rebind.example.com': '127.0.0.1' };
  if (!Object.hasOwn(table, host)) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return [{ address: table[host]!, family: 4 }];
};

let sim: Simulator;
let client: A1111Client;
let lists: A1111Lists;
let backends: HandlerBackends;
let jobNo = 0;

beforeAll(async () => {
  backends = await startHandlerBackends();
  ({ sim, client, lists } = backends);
});
afterAll(async () => {
  await backends.close();
});

const ctx = (): JobContext => ({ signal: new AbortController().signal, rawJson: (bytes) => new RawJson(bytes), progress: () => undefined, stream: async () => undefined });

/** Runs one job; returns its output (RawJson parsed) and the simulator requests it caused. */
async function run(input: unknown, limits: Partial<LimitsConfig> = {}): Promise<{ out: unknown; calls: SimRequestRecord[] }> {
  const handler = createA1111Handler({ client, limits: { ...LIMITS, ...limits }, log: silentLog, lookup: fakeLookup, lists, models: backends.models });
  const before = sim.requests.length;
  const raw = await handler({ id: `guard-${++jobNo}`, input }, ctx());
  const out = raw instanceof RawJson ? (JSON.parse(raw.bytes.toString('utf8')) as unknown) : raw;
  return { out, calls: sim.requests.slice(before) };
}

/** Asserts the job was refused without any A1111 request and returns the message. */
async function refused(input: unknown, limits: Partial<LimitsConfig> = {}): Promise<string> {
  const { out, calls } = await run(input, limits);
  expect(calls).toEqual([]);
  expect(out).toEqual({ error: expect.any(String) });
  const message = (out as { error: string }).error;
  expect(message.length).toBeGreaterThan(0);
  expect(message).not.toMatch(/[\n\r\u2028\u2029]/);
  return message;
}

const post = (endpoint: string, payload?: unknown) => ({ api: { method: 'POST', endpoint }, ...(payload === undefined ? {} : { payload }) });
const tiny = { prompt: 'a lighthouse', steps: 2, width: 64, height: 64 };

describe('valid jobs reach A1111 unchanged', () => {
  it("seed 004's txt2img", async () => {
    const { out, calls } = await run(SEED_004.input);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /sdapi/v1/txt2img']);
    expect(calls[0]!.body).toEqual(SEED_004.input.payload);
    expect((out as { images: string[] }).images).toHaveLength(1);
  });

  it('img2img with a PNG init image and mask, interrogate, png-info, extras, options', async () => {
    const img2img = { ...tiny, init_images: [PNG_B64], mask: `data:image/png;base64,${PNG_B64}`, denoising_strength: 0.5 };
    const jobs: Array<[unknown, string, unknown]> = [
      [post('/sdapi/v1/img2img', img2img), '/sdapi/v1/img2img', img2img],
      [post('/sdapi/v1/interrogate', { image: PNG_B64 }), '/sdapi/v1/interrogate', { image: PNG_B64 }],
      [post('/sdapi/v1/png-info', { image: PNG_B64 }), '/sdapi/v1/png-info', { image: PNG_B64 }],
      [post('/sdapi/v1/extra-single-image', { image: PNG_B64 }), '/sdapi/v1/extra-single-image', { image: PNG_B64 }],
      [post('/sdapi/v1/extra-batch-images', { imageList: [{ data: PNG_B64, name: 'a.png' }] }), '/sdapi/v1/extra-batch-images', { imageList: [{ data: PNG_B64, name: 'a.png' }] }],
      [post('/sdapi/v1/options', { CLIP_stop_at_last_layers: 2, eta_noise_seed_delta: 31337 }), '/sdapi/v1/options', { CLIP_stop_at_last_layers: 2, eta_noise_seed_delta: 31337 }],
      [{ ...tiny, override_settings: { CLIP_stop_at_last_layers: 2, samples_format: 'png' } }, '/sdapi/v1/txt2img', { ...tiny, override_settings: { CLIP_stop_at_last_layers: 2, samples_format: 'png' } }],
    ];
    for (const [input, path, body] of jobs) {
      const { out, calls } = await run(input);
      expect(calls.map((c) => c.path), path).toEqual([path]);
      expect(calls[0]!.body).toEqual(body);
      expect(calls[0]!.status).toBe(200);
      expect(out === null || typeof out === 'object').toBe(true);
      if (out !== null) expect(out).not.toHaveProperty('error');
    }
  });

  it('an image URL to a public host when ALLOW_IMAGE_URLS=true passes the worker (A1111 fetches it itself)', async () => {
    // The simulator would fetch the URL like A1111 does; a 500 fault answers first, so no test touches the network.
    sim.injectFault({ kind: 'status', status: 500, count: 1, route: 'png-info' });
    const image = 'http://images.example.com/a.png';
    const { out, calls } = await run(post('/sdapi/v1/png-info', { image }), { allowImageUrls: true });
    expect(calls.map((c) => c.path)).toEqual(['/sdapi/v1/png-info']);
    expect(calls[0]!.body).toEqual({ image });
    expect((out as { error: string }).error).toMatch(/^A1111 500 on POST \/sdapi\/v1\/png-info/);
  });
});

describe('refused jobs never reach A1111', () => {
  it.each([
    ['unknown route', post('/sdapi/v1/nope'), 'api.endpoint "/sdapi/v1/nope" is not allowed'],
    ['server-kill', post('/sdapi/v1/server-kill'), 'api.endpoint "/sdapi/v1/server-kill" is not allowed'],
    ['server-restart', post('/sdapi/v1/server-restart'), 'is not allowed'],
    ['server-stop', post('/sdapi/v1/server-stop'), 'is not allowed'],
    ['create/embedding', post('/sdapi/v1/create/embedding', { name: 'x' }), 'is not allowed'],
    ['train/hypernetwork', post('/sdapi/v1/train/hypernetwork', {}), 'is not allowed'],
    ['traversal', post('/sdapi/v1/../v1/server-kill'), 'is not allowed'],
    ['absolute URL', post('http://127.0.0.1:3000/sdapi/v1/txt2img', tiny), 'is not allowed'],
    ['query string', post('/sdapi/v1/txt2img?x=1', tiny), 'is not allowed'],
    ['encoded slash', post('/sdapi/v1/..%2fserver-kill'), 'is not allowed'],
    ['method mismatch', { api: { method: 'GET', endpoint: '/sdapi/v1/txt2img' }, payload: tiny }, 'api.method "GET" is not allowed for /sdapi/v1/txt2img: it takes POST'],
    ['unknown method', { api: { method: 'DELETE', endpoint: '/sdapi/v1/options' } }, 'api.method "DELETE" is not allowed'],
  ])('route abuse: %s', async (_label, input, expected) => {
    expect(await refused(input)).toContain(expected);
  });

  it('caps name the field, the value, the limit and the env var', async () => {
    expect(await refused({ ...tiny, steps: 400 })).toBe('invalid payload for POST /sdapi/v1/txt2img: steps: 400 is over MAX_STEPS=150');
    expect(await refused({ ...tiny, enable_hr: true, hr_second_pass_steps: 151 })).toContain('hr_second_pass_steps: 151 is over MAX_HR_STEPS=150');
    expect(await refused({ width: 2048, height: 2048, batch_size: 8 })).toContain('= 33554432 px is over MAX_PIXELS_PER_JOB=16777216');
    expect(await refused({ width: 1024, height: 1024, batch_size: 8, enable_hr: true })).toContain('(hires fix)');
    expect(await refused({ ...tiny, batch_size: 17 })).toContain('(MAX_IMAGES_PER_JOB)');
    expect(await refused(post('/sdapi/v1/img2img', { ...tiny, init_images: Array(17).fill(PNG_B64), batch_size: 16 }))).toContain(
      'init_images: 17 images is over MAX_INPUT_IMAGES=16',
    );
    expect(await refused(post('/sdapi/v1/interrogate', { image: PNG_B64 }), { maxInputImageBytes: 100 })).toMatch(
      /image: \d+ bytes decoded, over MAX_INPUT_IMAGE_BYTES=100$/,
    );
    expect(await refused(post('/sdapi/v1/png-info', { image: PNG_B64 }), { maxImageSide: 63 })).toContain(
      'image: PNG of 64 × 64 px is over MAX_IMAGE_SIDE=63',
    );
    const big = { ...tiny, prompt: 'x'.repeat(30_000) };
    expect(await refused(big, { maxInputBytes: 20_000 })).toMatch(/^input is 300\d\d bytes, over MAX_INPUT_BYTES=20000$/);
  });

  it('images: bad base64, not an image, URLs', async () => {
    expect(await refused(post('/sdapi/v1/img2img', { ...tiny, init_images: [PNG_B64, HTML_B64], batch_size: 2 }))).toBe(
      'invalid payload for POST /sdapi/v1/img2img: init_images[1]: not an image A1111 could open (starts with 3c68746d): formats read are PNG, JPEG, WebP, GIF, BMP, TIFF, ICO, CUR, ICNS, DDS, PSD, TGA, PNM, JPEG 2000, AVIF, HEIF/HEIC, JPEG XL, KTX',
    );
    // Line breaks inside base64 are what A1111's b64decode drops: accepted (and forwarded as sent).
    const wrapped = await run(post('/sdapi/v1/img2img', { ...tiny, init_images: [PNG_B64.slice(0, 60) + '\r\n' + PNG_B64.slice(60)] }));
    expect(wrapped.out).toHaveProperty('images');
    expect(await refused(post('/sdapi/v1/img2img', { ...tiny, init_images: [PNG_B64.slice(0, 20) + '-_' + PNG_B64.slice(22)] }))).toContain(
      'init_images[0]: is not valid base64',
    );
    expect(await refused(post('/sdapi/v1/interrogate', { image: 'file:///etc/passwd' }))).toContain('image: a "file:" URL is not accepted');
    expect(await refused(post('/sdapi/v1/interrogate', { image: 'https://images.example.com/a.png' }))).toContain(
      'image: image URLs are not allowed (ALLOW_IMAGE_URLS=false)',
    );
    const urlsOn = { allowImageUrls: true };
    expect(await refused(post('/sdapi/v1/interrogate', { image: 'http://169.254.169.254/latest/meta-data/' }), urlsOn)).toContain(
      'image: URL host "169.254.169.254" is link-local 169.254.0.0/16: only public addresses are allowed',
    );
    expect(await refused(post('/sdapi/v1/interrogate', { image: 'http://localhost:3000/sdapi/v1/options' }), urlsOn)).toContain('is loopback (localhost)');
    expect(await refused(post('/sdapi/v1/interrogate', { image: 'http://rebind.example.com/a.png' }), urlsOn)).toContain(
      'resolves to 127.0.0.1, loopback 127.0.0.0/8',
    );
    expect(await refused(post('/sdapi/v1/interrogate', { image: 'http://intranet.example.com/a.png' }), urlsOn)).toContain('private 10.0.0.0/8');
    expect(await refused(post('/sdapi/v1/interrogate', { image: 'http://u:p@images.example.com/a.png' }), urlsOn)).toContain('URL carries credentials');
    expect(await refused({ ...tiny, alwayson_scripts: { controlnet: { args: [{ image: 'http://10.0.0.8/a.png' }] } } })).toContain(
      'alwayson_scripts.controlnet.args[0].image: image URLs are not allowed (ALLOW_IMAGE_URLS=false)',
    );
  });

  it('dangerous settings, in override_settings and POST /options, unless unchanged', async () => {
    expect(await refused({ ...tiny, override_settings: { api_forbid_local_requests: false } })).toMatch(
      /^invalid payload for POST \/sdapi\/v1\/txt2img: override_settings.api_forbid_local_requests: false is not allowed: /,
    );
    expect(await refused(post('/sdapi/v1/options', { api_enable_requests: false }))).toContain('api_enable_requests: false is not allowed');
    expect(await refused(post('/sdapi/v1/options', { outdir_samples: '/etc' }))).toContain('outdir_samples: "/etc" is not allowed');
    // Open WebUI posts the whole GET /sdapi/v1/options object back with one key changed: unchanged values pass.
    const current = JSON.parse((await client.call('GET', '/sdapi/v1/options')).body.toString('utf8')) as Record<string, unknown>;
    const { out } = await run(post('/sdapi/v1/options', { ...current, sd_vae: 'Automatic' }));
    expect(out).toBeNull();
  });

  it('prototype-pollution keys and deep nesting', async () => {
    const keysBefore = Object.getOwnPropertyNames(Object.prototype);
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const top = JSON.parse(`{"prompt": "x", "${key}": {"polluted": "yes"}}`) as unknown;
      expect(await refused(top)).toBe(`input.${key}: unknown field ("__proto__", "constructor" and "prototype" are refused as keys anywhere in the input)`);
      const opts = JSON.parse(`{"api": {"method": "POST", "endpoint": "/sdapi/v1/options"}, "payload": {"${key}": {"api_forbid_local_requests": false}}}`) as unknown;
      expect(await refused(opts)).toContain(`input.payload.${key}: unknown field`);
      const api = JSON.parse(`{"api": {"method": "POST", "endpoint": "/sdapi/v1/txt2img", "${key}": {"endpoint": "/sdapi/v1/server-kill"}}}`) as unknown;
      expect(await refused(api)).toContain(`input.api.${key}: unknown field`);
    }
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(keysBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const deep = JSON.parse(`{"prompt": "x", "comments": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`) as unknown;
    expect(await refused(deep)).toMatch(/^input is nested more than 64 levels deep \(at input\.comments\[0\]/);
  });

  it('the wrong input types', async () => {
    expect(await refused(null)).toContain('input must be a JSON object');
    expect(await refused([tiny])).toContain('got an array');
    expect(await refused('txt2img')).toContain('got string');
    expect(await refused(post('/sdapi/v1/txt2img', 'a cat'))).toContain('payload for POST /sdapi/v1/txt2img must be a JSON object');
  });
});
