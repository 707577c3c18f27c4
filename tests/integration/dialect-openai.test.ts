/**
 * The OpenAI-style images API dialect (handler/jobs/dialects/openai.ts) through the real job handler (createA1111Handler)
 * against the A1111 simulator on loopback: the exact A1111 payload each request becomes (the simulator's request
 * log), the exact output returned, and the refusals (no A1111 call). S3 output (`response_format: url`) against a
 * real S3-compatible server (s3rver) on loopback, each URL downloaded and compared with the base64 image.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Lists } from '../../handler/a1111/lists.js';
import { loadConfig, type LimitsConfig, type OutputConfig } from '../../handler/config.js';
import { createA1111Handler, type JobContext } from '../../handler/jobs/handler.js';
import { MAPPABLE_SAMPLE_METHODS, SAMPLE_METHODS } from '../../handler/jobs/dialects/openai.js';
import { silentLog, type Log } from '../../handler/log.js';
import { RawJson } from '../../handler/runpod/index.js';
import { startSimulator, type SimRequestRecord, type Simulator } from '../../sim/server.js';
import { a1111Config } from '../helpers/fixtures.js';
import { startHandlerBackends, type HandlerBackends } from '../helpers/handler-backends.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-fixtures.js';

const LIMITS: LimitsConfig = loadConfig([], {}).limits;
const GENERATIONS = { method: 'POST', endpoint: '/v1/images/generations' };
const EDITS = { method: 'POST', endpoint: '/v1/images/edits' };
/** The prefix of the A1111 checks' messages on a translated generations payload. */
const AS_TXT2IMG = 'OpenAI images /v1/images/generations as A1111 POST /sdapi/v1/txt2img: ';

/** Seed 003's example (LlamaEdge sd-api-server ENDPOINTS.md), verbatim. */
const SEED_003 = {
  model: 'sd',
  prompt: 'A painting of a beautiful sunset over a calm lake.',
  negative_prompt: 'No people or animals in the image.',
  n: 1,
  cfg_scale: 7.0,
  sample_method: 'euler_a',
  steps: 20,
  size: '512x512',
  control_strength: 0.9,
  seed: 42,
};

/** Seed 002's example (LlamaEdge sd-proxy-server ENDPOINTS.md), verbatim but for the controlnet block. */
const SEED_002 = {
  prompt:
    '1girl,intricate,highly detailed,Mature,seductive gaze,teasing expression,sexy posture,solo,Moderate breasts,Charm,alluring,Hot,tsurime,lipstick,stylish_pose,long hair,long_eyelashes,black hair,bar,dress,',
  negative_prompt: '',
  seed: -1,
  batch_size: 1,
  steps: 20,
  scheduler: 'Karras',
  cfg_scale: 7,
  width: 540,
  height: 960,
  restore_faces: false,
  tiling: false,
  override_settings: { sd_model_checkpoint: 'waiANINSFWPONYXL_v90.safetensors' },
  sampler_index: 'DPM++ 2M',
};

/** A real 64 × 64 PNG, base64. */
function png64(): string {
  const png = new PNG({ width: 64, height: 64 });
  png.data.fill(0x40);
  return PNG.sync.write(png).toString('base64');
}
const PNG_B64 = png64();

let backends: HandlerBackends;
let sim: Simulator;
let s3: S3Server;
let jobNo = 0;

beforeAll(async () => {
  backends = await startHandlerBackends();
  sim = backends.sim;
  s3 = await startS3Server(['openai-bucket']);
});
afterAll(async () => {
  await backends?.close();
  await s3?.close();
});

const ctx = (): JobContext => ({ signal: new AbortController().signal, rawJson: (bytes) => new RawJson(bytes), progress: () => undefined, stream: async () => undefined });

/** A Log that keeps every line. */
function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

interface Run {
  out: Record<string, unknown>;
  /** the simulator requests the job made */
  calls: SimRequestRecord[];
  /** job start / end, unix seconds (the window `created` must fall in) */
  t0: number;
  t1: number;
  id: string;
  log: Log & { lines: string[] };
}

/** Runs one job through a new handler; the output parsed. */
async function run(input: unknown, opts: { output?: Partial<OutputConfig>; client?: A1111Client; s3Config?: unknown } = {}): Promise<Run> {
  const log = recordingLog();
  const output: OutputConfig = { maxResultBytes: 19 * 1024 * 1024, urlExpiresS: 604_800, ...opts.output };
  const handler = createA1111Handler({ client: opts.client ?? backends.client, limits: LIMITS, log, lists: backends.lists, models: backends.models, output });
  const before = sim.requests.length;
  const id = `openai-${++jobNo}`;
  const t0 = Math.floor(Date.now() / 1000);
  const raw = await handler({ id, input, ...(opts.s3Config !== undefined ? { s3Config: opts.s3Config } : {}) }, ctx());
  const t1 = Math.floor(Date.now() / 1000);
  const out = (raw instanceof RawJson ? JSON.parse(raw.bytes.toString('utf8')) : raw) as Record<string, unknown>;
  return { out, calls: sim.requests.slice(before), t0, t1, id, log };
}

/** Runs a job that must reach A1111 once (`path`); returns the run and the A1111 payload sent. */
async function generated(input: unknown, path = '/sdapi/v1/txt2img', opts: Parameters<typeof run>[1] = {}): Promise<Run & { sent: unknown }> {
  const r = await run(input, opts);
  expect(r.out.error, String(r.out.error)).toBeUndefined();
  expect(r.calls.map((c) => `${c.method} ${c.path}`)).toEqual([`POST ${path}`]);
  expect(r.calls[0]!.status).toBe(200);
  return { ...r, sent: r.calls[0]!.body };
}

/** Asserts a refusal without any A1111 call; returns the message. */
async function refused(input: unknown, opts: Parameters<typeof run>[1] = {}): Promise<string> {
  const r = await run(input, opts);
  expect(r.calls).toEqual([]);
  expect(r.out).toEqual({ error: expect.any(String) });
  return r.out.error as string;
}

/** The images A1111 (the simulator) returns for a native txt2img/img2img payload. */
async function nativeImages(payload: Record<string, unknown>, route = 'txt2img'): Promise<string[]> {
  const r = await generated({ api: { method: 'POST', endpoint: `/sdapi/v1/${route}` }, payload }, `/sdapi/v1/${route}`);
  return r.out.images as string[];
}

/** Asserts an OpenAI images response: `created` within the job, then exactly `data`. */
function expectResponse(r: Run, data: unknown[]): void {
  expect(Object.keys(r.out)).toEqual(['created', 'data']);
  expect(typeof r.out.created).toBe('number');
  expect(r.out.created).toBeGreaterThanOrEqual(r.t0);
  expect(r.out.created).toBeLessThanOrEqual(r.t1);
  expect(r.out.data).toEqual(data);
}

const SD_API_DEFAULTS = { seed: 42, sampler_name: 'Euler a', batch_size: 1, steps: 20, cfg_scale: 7, width: 512, height: 512 };

describe("sd-api-server's shape (seed 003): its defaults written into the A1111 payload", () => {
  it("seed 003's example with a real checkpoint: exact txt2img payload, one b64_json image equal to A1111's", async () => {
    const r = await generated({ api: GENERATIONS, payload: { ...SEED_003, model: 'v1-5-pruned-emaonly' } });
    const sent = {
      prompt: SEED_003.prompt,
      negative_prompt: SEED_003.negative_prompt,
      cfg_scale: 7,
      steps: 20,
      seed: 42,
      width: 512,
      height: 512,
      batch_size: 1,
      sampler_name: 'Euler a',
      override_settings: { sd_model_checkpoint: 'v1-5-pruned-emaonly' },
    };
    expect(r.sent).toEqual(sent);
    expectResponse(r, [{ b64_json: (await nativeImages(sent))[0] }]);
  });

  it('only a prompt: every sd-api-server default is written (seed 42, Euler a, 20 steps, cfg 7, 512x512, 1 image)', async () => {
    const r = await generated({ api: GENERATIONS, payload: { prompt: 'a red fox' } });
    expect(r.sent).toEqual({ prompt: 'a red fox', ...SD_API_DEFAULTS });
    expectResponse(r, [{ b64_json: expect.stringMatching(/^iVBORw0KGgo/) }]);
    expect(r.log.lines).toContain('DEBUG OpenAI images POST /v1/images/generations: sd-api-server request (no A1111-only field): its defaults written where absent');
  });

  it('null counts as absent; a negative seed means random (-1); n sets batch_size; control_strength and user are ignored', async () => {
    const r = await generated({ api: GENERATIONS, payload: { prompt: 'two owls', steps: null, seed: -7, n: 2, size: '64x64', control_strength: 0.9, user: 'user-1234', response_format: null } });
    expect(r.sent).toEqual({ ...SD_API_DEFAULTS, prompt: 'two owls', seed: -1, batch_size: 2, width: 64, height: 64 });
    expectResponse(r, [{ b64_json: expect.any(String) }, { b64_json: expect.any(String) }]);
    expect(r.log.lines).toContain('INFO OpenAI images POST /v1/images/generations: ignored control_strength (no control_image)');
  });

  it('size wins over width and height (as sd-api-server documents); the ignored sides are logged', async () => {
    const r = await generated({ api: GENERATIONS, payload: { prompt: 'a tower', size: '128x64', width: 1024, height: 64, steps: 1 } });
    expect(r.sent).toEqual({ ...SD_API_DEFAULTS, prompt: 'a tower', steps: 1, width: 128, height: 64 });
    const png = PNG.sync.read(Buffer.from((r.out.data as Array<{ b64_json: string }>)[0]!.b64_json, 'base64'));
    expect([png.width, png.height]).toEqual([128, 64]);
    expect(r.log.lines).toContain('INFO OpenAI images POST /v1/images/generations: ignored width 1024 (size wins)');
  });

  it('width and height without size are used', async () => {
    const r = await generated({ api: GENERATIONS, payload: { prompt: 'a tower', width: 64, height: 128, steps: 1 } });
    expect(r.sent).toEqual({ ...SD_API_DEFAULTS, prompt: 'a tower', steps: 1, width: 64, height: 128 });
  });

  it.each(MAPPABLE_SAMPLE_METHODS)('sample_method %s → its A1111 sampler in sampler_name (and A1111 uses it)', async (method) => {
    const r = await generated({ api: GENERATIONS, payload: { prompt: 'a boat', sample_method: method, steps: 1, size: '64x64' } });
    const sampler = SAMPLE_METHODS[method]!;
    expect(r.sent).toEqual({ ...SD_API_DEFAULTS, prompt: 'a boat', steps: 1, width: 64, height: 64, sampler_name: sampler });
    const info = JSON.parse((await nativeInfo({ prompt: 'a boat', steps: 1, width: 64, height: 64, sampler_name: sampler })) as string) as { sampler_name: string };
    expect(info.sampler_name).toBe(sampler);
  });

  it('the mapping is the one of the issue', () => {
    expect(SAMPLE_METHODS).toEqual({
      euler: 'Euler',
      euler_a: 'Euler a',
      heun: 'Heun',
      dpm2: 'DPM2',
      'dpm++2s_a': 'DPM++ 2S a',
      'dpm++2m': 'DPM++ 2M',
      'dpm++2mv2': null,
      ipndm: null,
      ipndm_v: null,
      lcm: 'LCM',
    });
  });
});

/** A1111's `info` for a native txt2img payload. */
async function nativeInfo(payload: Record<string, unknown>): Promise<unknown> {
  const r = await generated({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload });
  return r.out.info;
}

describe("sd-proxy-server's shape (seed 002): A1111's txt2img body, nothing added", () => {
  it("seed 002's example verbatim (checkpoint aside) goes through: width 540 is A1111's to floor (to 536), not the worker's to refuse", async () => {
    const payload = { ...SEED_002, override_settings: { sd_model_checkpoint: 'sd_xl_base_1.0.safetensors' } };
    const r = await generated({ api: GENERATIONS, payload });
    expect(r.sent).toEqual(payload);
    const png = PNG.sync.read(Buffer.from((r.out.data as Array<{ b64_json: string }>)[0]!.b64_json, 'base64'));
    expect([png.width, png.height]).toEqual([536, 960]);
  });

  it('with width 544 and a real checkpoint: passed through exactly (sampler_index, scheduler, seed -1 kept; no default added)', async () => {
    const payload = { ...SEED_002, width: 544, override_settings: { sd_model_checkpoint: 'sd_xl_base_1.0.safetensors' } };
    const r = await generated({ api: GENERATIONS, payload });
    expect(r.sent).toEqual(payload);
    expectResponse(r, [{ b64_json: expect.stringMatching(/^iVBORw0KGgo/) }]);
    const png = PNG.sync.read(Buffer.from((r.out.data as Array<{ b64_json: string }>)[0]!.b64_json, 'base64'));
    expect([png.width, png.height]).toEqual([544, 960]);
    expect(r.log.lines).toContain('DEBUG OpenAI images POST /v1/images/generations: A1111 txt2img body (has "scheduler"): A1111\'s defaults apply');
  });

  it('OpenAI fields in an A1111 body are translated; only the defaults they imply are written', async () => {
    const r = await generated({
      api: GENERATIONS,
      payload: { prompt: 'a lake', scheduler: 'karras', sample_method: 'dpm++2m', n: 2, size: '64x64', model: 'sd_xl_base_1.0', override_settings: { CLIP_stop_at_last_layers: 2 } },
    });
    expect(r.sent).toEqual({
      prompt: 'a lake',
      scheduler: 'karras',
      sampler_name: 'DPM++ 2M',
      batch_size: 2,
      width: 64,
      height: 64,
      override_settings: { CLIP_stop_at_last_layers: 2, sd_model_checkpoint: 'sd_xl_base_1.0' },
    });
    expectResponse(r, [{ b64_json: expect.any(String) }, { b64_json: expect.any(String) }]);
  });

  it("one A1111-only field is enough: nothing injected, A1111's defaults apply", async () => {
    const r = await generated({ api: GENERATIONS, payload: { prompt: 'a lake', n_iter: 1, width: 64, height: 64 } });
    expect(r.sent).toEqual({ prompt: 'a lake', n_iter: 1, width: 64, height: 64 });
  });
});

describe('/v1/images/edits → img2img', () => {
  it('image + prompt: init_images [image], strength 0.75 (sd-api-server default) and the other defaults written', async () => {
    const r = await generated({ api: EDITS, payload: { image: PNG_B64, prompt: 'make it blue', size: '64x64', steps: 2 } }, '/sdapi/v1/img2img');
    const sent = { ...SD_API_DEFAULTS, init_images: [PNG_B64], prompt: 'make it blue', width: 64, height: 64, steps: 2, denoising_strength: 0.75 };
    expect(r.sent).toEqual(sent);
    const native = await generated({ api: { method: 'POST', endpoint: '/sdapi/v1/img2img' }, payload: sent }, '/sdapi/v1/img2img');
    expectResponse(r, [{ b64_json: (native.out.images as string[])[0] }]);
  });

  it('strength, mask, n and sample_method translated', async () => {
    const r = await generated({ api: EDITS, payload: { image: PNG_B64, mask: PNG_B64, prompt: 'a hat', strength: 0.4, n: 2, sample_method: 'heun', size: '64x64', steps: 1, seed: 5 } }, '/sdapi/v1/img2img');
    expect(r.sent).toEqual({ ...SD_API_DEFAULTS, init_images: [PNG_B64], mask: PNG_B64, prompt: 'a hat', denoising_strength: 0.4, batch_size: 2, sampler_name: 'Heun', width: 64, height: 64, steps: 1, seed: 5 });
    expect((r.out.data as unknown[]).length).toBe(2);
  });

  it("A1111's img2img body on the same path: passed through, A1111's defaults (no strength default added)", async () => {
    const payload = { init_images: [PNG_B64], prompt: 'a hat', width: 64, height: 64, steps: 1, resize_mode: 1 };
    const r = await generated({ api: EDITS, payload }, '/sdapi/v1/img2img');
    expect(r.sent).toEqual(payload);
  });

  it('refusals: no image, image with init_images, strength with denoising_strength, txt2img-only fields', async () => {
    expect(await refused({ api: EDITS, payload: { prompt: 'x' } })).toBe(
      "invalid payload for OpenAI images POST /v1/images/edits: image: is required (the image to edit: base64 of any image A1111 opens, or an http(s) URL when ALLOW_IMAGE_URLS=true; or init_images in A1111's img2img form)",
    );
    expect(await refused({ api: EDITS, payload: { prompt: 'x', image: PNG_B64, init_images: [PNG_B64], strength: 0.5, denoising_strength: 0.6 } })).toBe(
      `invalid payload for OpenAI images POST /v1/images/edits: image: <string of ${PNG_B64.length} chars> and init_images: an array of 1 item are both given (both give the image to edit; send only one); strength: 0.5 and denoising_strength: 0.6 are both given (both set how much the image changes; send only one)`,
    );
    expect(await refused({ api: EDITS, payload: { prompt: 'x', image: PNG_B64, enable_hr: true } })).toBe('invalid payload for OpenAI images POST /v1/images/edits: enable_hr: unknown field');
    // an image that is not one, or a URL while ALLOW_IMAGE_URLS is off: named as sent
    expect(await refused({ api: EDITS, payload: { prompt: 'x', image: Buffer.from('not an image at all').toString('base64') } })).toBe(
      'invalid payload for OpenAI images POST /v1/images/edits: image: not an image A1111 could open (starts with 6e6f7420): formats read are PNG, JPEG, WebP, GIF, BMP, TIFF, ICO, CUR, ICNS, DDS, PSD, TGA, PNM, JPEG 2000, AVIF, HEIF/HEIC, JPEG XL, KTX',
    );
    expect(await refused({ api: EDITS, payload: { prompt: 'x', image: 'https://images.example.com/cat.png' } })).toBe(
      'invalid payload for OpenAI images POST /v1/images/edits: image: image URLs are not allowed (ALLOW_IMAGE_URLS=false): send the image as base64 (raw or data:image/png;base64,…)',
    );
    // the A1111 image check runs on the translated payload too (here: the mask)
    expect(await refused({ api: EDITS, payload: { prompt: 'x', image: PNG_B64, mask: Buffer.from('not an image at all').toString('base64') } })).toBe(
      'OpenAI images /v1/images/edits as A1111 POST /sdapi/v1/img2img: invalid payload for POST /sdapi/v1/img2img: mask: not an image A1111 could open (starts with 6e6f7420): formats read are PNG, JPEG, WebP, GIF, BMP, TIFF, ICO, CUR, ICNS, DDS, PSD, TGA, PNM, JPEG 2000, AVIF, HEIF/HEIC, JPEG XL, KTX',
    );
  });
});

describe('refusals (nothing reaches A1111)', () => {
  it.each(['dpm++2mv2', 'ipndm', 'ipndm_v'])('sample_method %s has no A1111 sampler: refused with the mappable list', async (method) => {
    expect(await refused({ api: GENERATIONS, payload: { prompt: 'x', sample_method: method } })).toBe(
      `invalid payload for OpenAI images POST /v1/images/generations: sample_method: "${method}" is not allowed (sd-api-server's ${method} has no A1111 equivalent; use one of euler, euler_a, heun, dpm2, dpm++2s_a, dpm++2m, lcm, or name any A1111 sampler with sampler_name (GET /sdapi/v1/samplers))`,
    );
  });

  it('contradictions name both fields', async () => {
    expect(await refused({ api: GENERATIONS, payload: { prompt: 'x', n: 2, batch_size: 3, sample_method: 'euler', sampler_name: 'Euler', model: 'a', override_settings: { sd_model_checkpoint: 'b' } } })).toBe(
      'invalid payload for OpenAI images POST /v1/images/generations: sample_method: "euler" and sampler_name: "Euler" are both given (both choose the sampler; send only one); n: 2 and batch_size: 3 are both given (both set the number of images; send only one); model: "a" and override_settings.sd_model_checkpoint: "b" are both given (both choose the checkpoint; send only one)',
    );
    expect(await refused({ api: GENERATIONS, payload: { prompt: 'x', sample_method: 'euler', sampler_index: 'Euler' } })).toBe(
      'invalid payload for OpenAI images POST /v1/images/generations: sample_method: "euler" and sampler_index: "Euler" are both given (both choose the sampler; send only one)',
    );
  });

  it('control_image, quality and style are refused with what to do instead', async () => {
    expect(await refused({ api: GENERATIONS, payload: { prompt: 'x', control_image: PNG_B64, quality: 'hd', style: 'vivid' } })).toBe(
      'invalid payload for OpenAI images POST /v1/images/generations: control_image: not taken here (no ControlNet in sd-api-server\'s form); use ControlNet through the A1111 field alwayson_scripts: {"controlnet": {"args": [{"image": …, "module": …, "model": …}]}} (ControlNet extension installed); quality: "hd" is not allowed (OpenAI\'s quality has no A1111 equivalent; leave it out and set steps, or the hires fix (enable_hr) instead); style: "vivid" is not allowed (OpenAI\'s style has no A1111 equivalent; leave it out and describe the look in the prompt, or apply A1111 prompt styles with "styles": [names])',
    );
  });

  it('schema: missing prompt, size not WxH, response_format, unknown field with a suggestion', async () => {
    expect(await refused({ api: GENERATIONS, payload: { size: '512', response_format: 'png', sampel_method: 'euler' } })).toBe(
      'invalid payload for OpenAI images POST /v1/images/generations: prompt: is required; sampel_method: unknown field (did you mean "sample_method"?); size: "512" is not allowed (must match pattern "^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$"); response_format: "png" is not allowed (must be one of "b64_json", "url", null)',
    );
  });

  it('n over MAX_IMAGES_PER_JOB; steps over MAX_STEPS (the A1111 check, on the translated payload)', async () => {
    expect(await refused({ api: GENERATIONS, payload: { prompt: 'x', n: 17 } })).toBe('invalid payload for OpenAI images POST /v1/images/generations: n: 17 is over MAX_IMAGES_PER_JOB=16');
    expect(await refused({ api: GENERATIONS, payload: { prompt: 'x', steps: 400 } })).toBe(`${AS_TXT2IMG}invalid payload for POST /sdapi/v1/txt2img: steps: 400 is over MAX_STEPS=150`);
  });

  it("seed 003's model \"sd\" is not a checkpoint: refused with A1111's names (STRICT_NAMES)", async () => {
    const message = await refused({ api: GENERATIONS, payload: SEED_003 });
    expect(message).toMatch(/^OpenAI images POST \/v1\/images\/generations: model: "sd" is not an A1111 checkpoint\b.*; valid: sd_xl_base_1\.0\.safetensors \[[0-9a-f]+\], sd_xl_refiner_1\.0\.safetensors \[[0-9a-f]+\], v1-5-pruned-emaonly\.safetensors \[[0-9a-f]+\]$/);
  });

  it('with STRICT_NAMES=false too: an unknown checkpoint is certainly wrong for the server (only styles and LoRAs become warnings)', async () => {
    const lax = new A1111Client(a1111Config({ url: sim.url, strictNames: false, readyTimeoutMs: 5000, requestTimeoutMs: 30_000 }), silentLog);
    const message = await refused({ api: GENERATIONS, payload: { ...SEED_003, size: '64x64', steps: 1 } }, { client: lax });
    expect(message).toMatch(/^OpenAI images POST \/v1\/images\/generations: model: "sd" is not an A1111 checkpoint/);
  });
});

describe('response_format', () => {
  it('url without any bucket: refused before A1111 with how to configure one', async () => {
    const message = await refused({ api: GENERATIONS, payload: { prompt: 'x', response_format: 'url' } });
    expect(message).toMatch(/^response_format "url" needs a bucket: set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY \(and BUCKET_NAME\) on the endpoint, or send s3Config/);
  });

  it('the worker\'s "output" flag must agree with response_format', async () => {
    expect(await refused({ api: GENERATIONS, payload: { prompt: 'x' }, output: 's3' })).toBe(
      'input.output: "s3" contradicts response_format (default "b64_json"), which asks for "base64" output',
    );
    expect(await refused({ api: GENERATIONS, payload: { prompt: 'x', response_format: 'url' }, output: 'base64' })).toBe(
      'input.output: "base64" contradicts response_format "url", which asks for "s3" output',
    );
  });

  it('url with a bucket (s3rver): data[i].url are presigned URLs whose bytes are the b64_json images of the same request', async () => {
    const payload = { prompt: 'a lighthouse', n: 2, size: '64x64', steps: 2, seed: 9 };
    const b64 = await generated({ api: GENERATIONS, payload });
    const bucket = { endpointUrl: s3.url, accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey, bucketName: 'openai-bucket' };
    const r = await generated({ api: GENERATIONS, payload: { ...payload, response_format: 'url' } }, '/sdapi/v1/txt2img', { output: { bucket } });
    expect(r.sent).toEqual(b64.sent);
    expectResponse(r, [{ url: expect.any(String) }, { url: expect.any(String) }]);
    const items = r.out.data as Array<{ url: string }>;
    const images = b64.out.data as Array<{ b64_json: string }>;
    for (let i = 0; i < 2; i++) {
      const u = new URL(items[i]!.url);
      expect(`${u.origin}${u.pathname}`).toBe(`${s3.url}/openai-bucket/${r.id}/${i}.png`);
      const res = await fetch(items[i]!.url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(images[i]!.b64_json, 'base64'))).toBe(true);
    }
  });

  it('b64_json (and the default) stay base64 even with a bucket configured', async () => {
    const bucket = { endpointUrl: s3.url, accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey, bucketName: 'openai-bucket' };
    for (const extra of [{}, { response_format: 'b64_json' }]) {
      const r = await generated({ api: GENERATIONS, payload: { prompt: 'x', size: '64x64', steps: 1, ...extra } }, '/sdapi/v1/txt2img', { output: { bucket } });
      expectResponse(r, [{ b64_json: expect.stringMatching(/^iVBORw0KGgo/) }]);
    }
  });
});

describe('revised_prompt', () => {
  it('absent when A1111 used the prompt as sent', async () => {
    const r = await generated({ api: GENERATIONS, payload: { prompt: 'a plain prompt', size: '64x64', steps: 1 } });
    expect((r.out.data as Array<Record<string, unknown>>)[0]).not.toHaveProperty('revised_prompt');
  });

  it("with a prompt style: present exactly when the prompt A1111 reports using (info.all_prompts) differs from the one sent", async () => {
    // An A1111 with a prompt style (jobs on one simulator, name lists from a second one with the same catalog).
    const styles = [{ name: 'oil', prompt: '{prompt}, oil painting', negative_prompt: 'photo' }];
    const styled = await startSimulator({ port: 0, stepMs: 0, styles });
    const styledLists = await startSimulator({ port: 0, stepMs: 0, styles });
    try {
      const client = new A1111Client(a1111Config({ url: styled.url, readyTimeoutMs: 5000, requestTimeoutMs: 30_000 }), silentLog);
      const lists = new A1111Lists(new A1111Client(a1111Config({ url: styledLists.url }), silentLog), silentLog);
      const handler = createA1111Handler({ client, limits: LIMITS, log: silentLog, lists, models: backends.models });
      const payload = { prompt: 'a harbour', styles: ['oil'], n: 2, size: '64x64', steps: 1, seed: 3 };
      const t0 = Math.floor(Date.now() / 1000);
      const raw = await handler({ id: 'openai-style', input: { api: GENERATIONS, payload } }, ctx());
      const out = JSON.parse((raw as RawJson).bytes.toString('utf8')) as { created: number; data: Array<Record<string, unknown>> };
      const sent = styled.requests.at(-1)!.body as Record<string, unknown>;
      // styles is an A1111-only field: A1111's body, OpenAI fields translated, nothing added
      expect(sent).toEqual({ prompt: 'a harbour', styles: ['oil'], batch_size: 2, width: 64, height: 64, steps: 1, seed: 3 });
      // what this A1111 says it used for the same payload
      const native = await handler({ id: 'native-style', input: { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: sent } }, ctx());
      const answer = JSON.parse((native as RawJson).bytes.toString('utf8')) as { images: string[]; info: string };
      const used = (JSON.parse(answer.info) as { all_prompts: string[] }).all_prompts;
      // A1111 applies the style ("{prompt}, oil painting") to the prompts it reports using.
      expect(used).toEqual(['a harbour, oil painting', 'a harbour, oil painting']);
      expect(out.created).toBeGreaterThanOrEqual(t0);
      expect(out.data).toEqual(answer.images.map((img) => ({ b64_json: img, revised_prompt: 'a harbour, oil painting' })));
    } finally {
      await styled.close();
      await styledLists.close();
    }
  });
});
