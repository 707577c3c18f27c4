/**
 * The OpenAI-style images API dialect (handler/jobs/dialects/openai.ts) on its own: the schema merge, the shape rule
 * (sd-api-server's defaults vs A1111's body), the field translation and refusals, and the output builder. No request
 * here needs A1111's lists (no `model`), so no server is involved; the handler path is in
 * tests/integration/dialect-openai.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Lists } from '../../handler/a1111/lists.js';
import { loadConfig, type LimitsConfig } from '../../handler/config.js';
import type { DialectContext, Translation } from '../../handler/jobs/dialects/dialects.js';
import { JobInputError } from '../../handler/errors/index.js';
import { DIALECTS } from '../../handler/jobs/handler.js';
import {
  EDITS_ENDPOINT,
  GENERATIONS_ENDPOINT,
  MAPPABLE_SAMPLE_METHODS,
  mapSampleMethod,
  openaiDialect,
  openaiImagesResponse,
  parseSize,
  SAMPLE_METHODS,
  SD_API_SERVER_DEFAULTS,
} from '../../handler/jobs/dialects/openai.js';
import { silentLog } from '../../handler/log.js';
import { a1111Config } from '../helpers/fixtures.js';
import { pngBytes } from './image-fixtures.js';
import generationsSchema from '../../schemas/openai-generations.json' with { type: 'json' };
import editsSchema from '../../schemas/openai-edits.json' with { type: 'json' };
import txt2imgSchema from '../../schemas/txt2img.json' with { type: 'json' };
import img2imgSchema from '../../schemas/img2img.json' with { type: 'json' };

const LIMITS: LimitsConfig = loadConfig([], {}).limits;
const PNG = pngBytes(8, 8).toString('base64');
/** Never asked for a list here (no request carries `model`); its URL has nothing listening. */
const LISTS = new A1111Lists(new A1111Client(a1111Config({ url: 'http://127.0.0.1:9' }), silentLog), silentLog);

function ctx(limits: Partial<LimitsConfig> = {}): DialectContext {
  return { lists: LISTS, strictNames: true, limits: { ...LIMITS, ...limits }, signal: new AbortController().signal, log: silentLog, jobId: 'unit' };
}

const gen = (payload: unknown, limits: Partial<LimitsConfig> = {}): Promise<Translation> => openaiDialect.translate(GENERATIONS_ENDPOINT, payload, ctx(limits));
const edit = (payload: unknown, limits: Partial<LimitsConfig> = {}): Promise<Translation> => openaiDialect.translate(EDITS_ENDPOINT, payload, ctx(limits));

/** The refusal message of a translation. */
async function refusal(p: Promise<Translation>): Promise<string> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(JobInputError);
  return (e as Error).message;
}

const GEN = 'invalid payload for OpenAI images POST /v1/images/generations: ';

describe('registration and schemas', () => {
  it('is the handler dialect for both endpoints', () => {
    expect(openaiDialect.name).toBe('OpenAI images');
    expect(openaiDialect.endpoints).toEqual(['/v1/images/generations', '/v1/images/edits']);
    expect(DIALECTS).toContain(openaiDialect);
  });

  it("each schema's description says the A1111 schema's properties are merged in at load time", () => {
    expect(generationsSchema.description).toContain("every property of txt2img.json (sd-proxy-server's A1111 body) is also accepted");
    expect(editsSchema.description).toContain("every property of img2img.json (A1111's img2img body) is also accepted");
  });

  it('every txt2img field is accepted on generations, every img2img field on edits (the merge)', async () => {
    // null where the A1111 model takes it (Optional and not failing in processing; the A1111 checks refuse the rest).
    const nullOk = (p: object) => 'type' in p && Array.isArray(p.type) && p.type.includes('null') && !('x-null-fails' in p);
    for (const [key, p] of Object.entries(txt2imgSchema.properties)) {
      if (key === 'prompt' || !nullOk(p)) continue;
      await expect(gen({ prompt: 'x', [key]: null }), key).resolves.toBeDefined();
    }
    for (const [key, p] of Object.entries(img2imgSchema.properties)) {
      if (key === 'prompt' || key === 'init_images' || !nullOk(p)) continue;
      await expect(edit({ prompt: 'x', image: PNG, [key]: null }), key).resolves.toBeDefined();
    }
  });

  it('a txt2img-only field is unknown on edits; an unknown field is refused with a suggestion', async () => {
    expect(await refusal(edit({ prompt: 'x', image: PNG, hr_scale: 2 }))).toBe('invalid payload for OpenAI images POST /v1/images/edits: hr_scale: unknown field');
    expect(await refusal(gen({ prompt: 'x', negativ_prompt: 'y' }))).toBe(`${GEN}negativ_prompt: unknown field (did you mean "negative_prompt"?)`);
    expect(await refusal(gen('a cat'))).toBe('payload for OpenAI images POST /v1/images/generations must be a JSON object (got a string "a cat")');
  });

  it('an endpoint that is not the dialect\'s is refused', async () => {
    expect(await refusal(openaiDialect.translate('/v1/images/variations', { prompt: 'x' }, ctx()))).toBe(
      '"/v1/images/variations" is not an OpenAI images endpoint (allowed: /v1/images/generations, /v1/images/edits)',
    );
  });
});

describe('the shape rule', () => {
  it("sd-api-server's shape: its documented defaults written", async () => {
    const t = await gen({ prompt: 'a cat' });
    expect(t.payload).toEqual({ prompt: 'a cat', seed: 42, sampler_name: 'Euler a', batch_size: 1, steps: 20, cfg_scale: 7, width: 512, height: 512 });
    expect(SD_API_SERVER_DEFAULTS).toEqual({ seed: 42, sampler_name: 'Euler a', batch_size: 1, steps: 20, cfg_scale: 7, width: 512, height: 512 });
    expect(t.route.path).toBe('/sdapi/v1/txt2img');
    expect(t.output).toBe('base64');
  });

  it('shared fields (prompt, negative_prompt, seed, steps, cfg_scale, width, height) keep the shape sd-api-server\'s', async () => {
    const t = await gen({ prompt: 'a', negative_prompt: 'b', seed: 3, steps: 4, cfg_scale: 5.5, width: 64, height: 128 });
    expect(t.payload).toEqual({ prompt: 'a', negative_prompt: 'b', seed: 3, sampler_name: 'Euler a', batch_size: 1, steps: 4, cfg_scale: 5.5, width: 64, height: 128 });
  });

  it.each([
    ['sampler_index', 'Euler'],
    ['scheduler', 'karras'],
    ['styles', []],
    ['n_iter', 1],
    ['enable_hr', false],
    ['override_settings', {}],
    ['alwayson_scripts', {}],
    ['subseed', 1],
  ])('any A1111-only field (%s) makes it A1111\'s body: nothing added', async (key, value) => {
    const t = await gen({ prompt: 'a cat', [key]: value });
    expect(t.payload).toEqual({ prompt: 'a cat', [key]: value });
  });

  it("an A1111-only field with null still makes it A1111's body; null shared fields pass through there", async () => {
    expect((await gen({ prompt: 'a', sampler_name: null, steps: null })).payload).toEqual({ prompt: 'a', sampler_name: null, steps: null });
  });

  it("edits: init_images or denoising_strength make it A1111's img2img body; otherwise strength defaults to 0.75", async () => {
    expect((await edit({ prompt: 'a', init_images: [PNG] })).payload).toEqual({ prompt: 'a', init_images: [PNG] });
    expect((await edit({ prompt: 'a', image: PNG, denoising_strength: 0.3 })).payload).toEqual({ prompt: 'a', init_images: [PNG], denoising_strength: 0.3 });
    const t = await edit({ prompt: 'a', image: PNG });
    expect(t.payload).toEqual({ ...SD_API_SERVER_DEFAULTS, prompt: 'a', init_images: [PNG], denoising_strength: 0.75 });
    expect(t.route.path).toBe('/sdapi/v1/img2img');
  });
});

describe('field translation', () => {
  it('size → width/height, winning over them', async () => {
    expect((await gen({ prompt: 'a', size: '1024x1536', width: 64, height: 64, n_iter: 1 })).payload).toEqual({ prompt: 'a', width: 1024, height: 1536, n_iter: 1 });
  });

  it('n → batch_size; negative seeds → -1 (random); model → override_settings.sd_model_checkpoint merged', async () => {
    // (the model name check itself needs A1111's list: tested through the handler)
    expect((await gen({ prompt: 'a', n: 3, seed: -99, scheduler: 'karras' })).payload).toEqual({ prompt: 'a', batch_size: 3, seed: -1, scheduler: 'karras' });
    expect((await gen({ prompt: 'a', seed: -1 })).payload).toMatchObject({ seed: -1 });
  });

  it('response_format: url → S3 output, b64_json or absent → base64', async () => {
    expect((await gen({ prompt: 'a', response_format: 'url' })).output).toBe('s3');
    expect((await gen({ prompt: 'a', response_format: 'b64_json' })).output).toBe('base64');
    expect((await edit({ prompt: 'a', image: PNG, response_format: 'url' })).output).toBe('s3');
  });

  it('user and control_strength are accepted and not sent', async () => {
    expect((await gen({ prompt: 'a', user: 'u-1', control_strength: 0.9 })).payload).toEqual({ ...SD_API_SERVER_DEFAULTS, prompt: 'a' });
  });

  it('mapSampleMethod: the seven mappable names, the three refused, typos and A1111 names', () => {
    expect(MAPPABLE_SAMPLE_METHODS).toEqual(['euler', 'euler_a', 'heun', 'dpm2', 'dpm++2s_a', 'dpm++2m', 'lcm']);
    for (const m of MAPPABLE_SAMPLE_METHODS) expect(mapSampleMethod(m)).toEqual({ sampler: SAMPLE_METHODS[m] });
    const list = 'euler, euler_a, heun, dpm2, dpm++2s_a, dpm++2m, lcm';
    expect(mapSampleMethod('ipndm')).toEqual({ reason: `sd-api-server's ipndm has no A1111 equivalent; use one of ${list}, or name any A1111 sampler with sampler_name (GET /sdapi/v1/samplers)` });
    expect(mapSampleMethod('Euler_A')).toEqual({ reason: `did you mean "euler_a"? use one of ${list}, or name any A1111 sampler with sampler_name (GET /sdapi/v1/samplers)` });
    expect(mapSampleMethod('DPM++ 2M')).toEqual({ reason: `"DPM++ 2M" is an A1111 sampler name: send it as sampler_name, or use one of ${list}` });
    expect(mapSampleMethod('ddim')).toEqual({ reason: `must be one of ${list}; or name any A1111 sampler with sampler_name (GET /sdapi/v1/samplers)` });
    expect(mapSampleMethod('__proto__')).toEqual({ reason: `must be one of ${list}; or name any A1111 sampler with sampler_name (GET /sdapi/v1/samplers)` });
  });

  it('parseSize: any sides A1111 takes (no multiple of 8, no upper bound: A1111 has none)', () => {
    expect(parseSize('512x768')).toEqual({ width: 512, height: 768 });
    expect(parseSize('540x4000')).toEqual({ width: 540, height: 4000 });
    expect(parseSize('512*512')).toEqual({ reason: 'must be "<width>x<height>", e.g. "512x512"' });
  });
});

describe('refusals', () => {
  it('several issues in one line', async () => {
    expect(await refusal(gen({ prompt: 'a', sample_method: 'ipndm_v', n: 20 }))).toBe(
      `${GEN}sample_method: "ipndm_v" is not allowed (sd-api-server's ipndm_v has no A1111 equivalent; use one of euler, euler_a, heun, dpm2, dpm++2s_a, dpm++2m, lcm, or name any A1111 sampler with sampler_name (GET /sdapi/v1/samplers)); n: 20 is over MAX_IMAGES_PER_JOB=16`,
    );
  });

  it('MAX_IMAGES_PER_JOB is the configured one', async () => {
    expect(await refusal(gen({ prompt: 'a', n: 5 }, { maxImagesPerJob: 4 }))).toBe(`${GEN}n: 5 is over MAX_IMAGES_PER_JOB=4`);
  });

  it('schema types: prompt must be a string, n an integer ≥ 1, strength 0–1', async () => {
    expect(await refusal(gen({ prompt: null, n: 0 }))).toBe(`${GEN}prompt: null is not allowed (must be a string); n: 0 is not allowed (must be >= 1)`);
    expect(await refusal(edit({ prompt: 'a', image: PNG, strength: 1.5 }))).toBe('invalid payload for OpenAI images POST /v1/images/edits: strength: 1.5 is not allowed (must be <= 1)');
  });

  it('an edits image URL is taken when ALLOW_IMAGE_URLS=true (its host is checked by the handler)', async () => {
    expect((await edit({ prompt: 'a', image: 'https://images.example.com/a.png' }, { allowImageUrls: true })).payload).toMatchObject({ init_images: ['https://images.example.com/a.png'] });
  });
});

describe('openaiImagesResponse', () => {
  const at = { uploaded: false, startedAtMs: 1_700_000_123_999 };
  const info = (o: unknown) => JSON.stringify(o);

  it('created in whole seconds; one b64_json item per image; no revised_prompt when the prompt was used as sent', () => {
    const answer = { images: ['AAA', 'BBB'], parameters: {}, info: info({ all_prompts: ['a cat', 'a cat'], index_of_first_image: 0 }) };
    expect(openaiImagesResponse(answer, 'a cat', at)).toEqual({ created: 1_700_000_123, data: [{ b64_json: 'AAA' }, { b64_json: 'BBB' }] });
  });

  it('url items when the images were uploaded', () => {
    const answer = { images: ['https://b/0.png'], info: info({ all_prompts: ['x'] }) };
    expect(openaiImagesResponse(answer, 'x', { ...at, uploaded: true })).toEqual({ created: 1_700_000_123, data: [{ url: 'https://b/0.png' }] });
  });

  it('revised_prompt when A1111 used another prompt (a style applied), per image, after a grid', () => {
    const answer = {
      images: ['GRID', 'A', 'B', 'CONTROLNET-MAP'],
      info: info({ all_prompts: ['a cat, oil painting', 'a cat'], index_of_first_image: 1 }),
    };
    expect(openaiImagesResponse(answer, 'a cat', at).data).toEqual([{ b64_json: 'GRID' }, { b64_json: 'A', revised_prompt: 'a cat, oil painting' }, { b64_json: 'B' }, { b64_json: 'CONTROLNET-MAP' }]);
  });

  it.each([
    ['missing', undefined],
    ['not JSON', 'not json {'],
    ['JSON but not an object', '[1,2]'],
    ['without all_prompts', info({ prompt: 'y' })],
    ['all_prompts not a list', info({ all_prompts: 'y' })],
    ['a non-string prompt', info({ all_prompts: [7] })],
  ])('info %s: no revised_prompt, no error', (_what, value) => {
    const answer: Record<string, unknown> = { images: ['A'] };
    if (value !== undefined) answer.info = value;
    expect(openaiImagesResponse(answer, 'x', at)).toEqual({ created: 1_700_000_123, data: [{ b64_json: 'A' }] });
  });

  it('a bad index_of_first_image counts as 0; no images gives an empty data list', () => {
    expect(openaiImagesResponse({ images: ['A'], info: info({ all_prompts: ['z'], index_of_first_image: -3 }) }, 'x', at).data).toEqual([{ b64_json: 'A', revised_prompt: 'z' }]);
    expect(openaiImagesResponse({ images: [] }, 'x', at)).toEqual({ created: 1_700_000_123, data: [] });
  });

  it("the translation's reshape compares with the request's prompt", async () => {
    const t = await gen({ prompt: 'a dog' });
    expect(t.reshape({ images: ['A'], info: info({ all_prompts: ['a dog, watercolor'] }) }, at)).toEqual({ created: 1_700_000_123, data: [{ b64_json: 'A', revised_prompt: 'a dog, watercolor' }] });
  });
});
