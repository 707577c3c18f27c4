import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type LimitsConfig } from '../../handler/config.js';
import { JobInputError } from '../../handler/errors/index.js';
import { resolveRoute, type RouteSpec } from '../../handler/jobs/input/routes.js';
import { suggestField } from '../../handler/jobs/input/name-suggest.js';
import { validatePayload, type ValidateOptions } from '../../handler/jobs/input/validate.js';
import { parseOpenApi } from '../../handler/a1111/openapi.js';
import { FORGE_OPENAPI } from './openapi-fixtures.js';
import txt2imgSchema from '../../schemas/txt2img.json' with { type: 'json' };
import img2imgSchema from '../../schemas/img2img.json' with { type: 'json' };

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SEEDS_DIR = join(REPO_ROOT, '..', 'shared', 'seeds');
const LIMITS: LimitsConfig = loadConfig([], {}).limits;

const TXT2IMG = resolveRoute('POST', '/sdapi/v1/txt2img');
const IMG2IMG = resolveRoute('POST', '/sdapi/v1/img2img');
const route = (method: string, name: string): RouteSpec => resolveRoute(method, `/sdapi/v1/${name}`);

/** The message of the JobInputError thrown by `fn` (fails the test when nothing is thrown). */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(JobInputError);
    const m = (e as JobInputError).message;
    expect(m).not.toMatch(/[\n\r]/);
    return m;
  }
  throw new Error('expected a JobInputError, nothing was thrown');
}

const check = (r: RouteSpec, payload: unknown, limits: LimitsConfig = LIMITS, opts: ValidateOptions = {}) => () => validatePayload(r, payload, limits, opts);

/** Seed 004 (`/work/shared/seeds/004_*.txt`): the request users send, copied verbatim. */
const SEED_004_INPUT = {
  api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' },
  payload: {
    override_settings: { sd_model_checkpoint: 'sd_xl_base_1.0', sd_vae: 'sdxl_vae.safetensors' },
    override_settings_restore_afterwards: true,
    refiner_checkpoint: 'sd_xl_refiner_1.0',
    refiner_switch_at: 0.8,
    prompt: 'an astronaut riding a horse',
    negative_prompt: '',
    seed: -1,
    batch_size: 1,
    steps: 30,
    cfg_scale: 7,
    width: 1024,
    height: 1024,
    sampler_name: 'DPM++ SDE',
    sampler_index: 'DPM++ SDE',
    scheduler: 'karras',
    restore_faces: false,
  },
};

/** Seed 000 (`/work/shared/seeds/000_*.txt`): A1111's own /docs txt2img request body, copied verbatim. */
const SEED_000_PAYLOAD = {
  prompt: '',
  negative_prompt: '',
  styles: ['string'],
  seed: -1,
  subseed: -1,
  subseed_strength: 0,
  seed_resize_from_h: -1,
  seed_resize_from_w: -1,
  sampler_name: 'string',
  scheduler: 'string',
  batch_size: 1,
  n_iter: 1,
  steps: 50,
  cfg_scale: 7,
  width: 512,
  height: 512,
  restore_faces: true,
  tiling: true,
  do_not_save_samples: false,
  do_not_save_grid: false,
  eta: 0,
  denoising_strength: 0,
  s_min_uncond: 0,
  s_churn: 0,
  s_tmax: 0,
  s_tmin: 0,
  s_noise: 0,
  override_settings: {},
  override_settings_restore_afterwards: true,
  refiner_checkpoint: 'string',
  refiner_switch_at: 0,
  disable_extra_networks: false,
  firstpass_image: 'string',
  comments: {},
  enable_hr: false,
  firstphase_width: 0,
  firstphase_height: 0,
  hr_scale: 2,
  hr_upscaler: 'string',
  hr_second_pass_steps: 0,
  hr_resize_x: 0,
  hr_resize_y: 0,
  hr_checkpoint_name: 'string',
  hr_sampler_name: 'string',
  hr_scheduler: 'string',
  hr_prompt: '',
  hr_negative_prompt: '',
  force_task_id: 'string',
  sampler_index: 'Euler',
  script_name: 'string',
  script_args: [],
  send_images: true,
  save_images: false,
  alwayson_scripts: {},
  infotext: 'string',
};

/** An img2img payload with every A1111 field at its default (as A1111's /docs renders it). */
const IMG2IMG_ALL_FIELDS = {
  init_images: ['iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='],
  prompt: '',
  negative_prompt: '',
  styles: ['string'],
  seed: -1,
  subseed: -1,
  subseed_strength: 0,
  seed_resize_from_h: -1,
  seed_resize_from_w: -1,
  sampler_name: 'string',
  scheduler: 'string',
  batch_size: 1,
  n_iter: 1,
  steps: 50,
  cfg_scale: 7,
  width: 512,
  height: 512,
  restore_faces: true,
  tiling: true,
  do_not_save_samples: false,
  do_not_save_grid: false,
  eta: 0,
  denoising_strength: 0.75,
  s_min_uncond: 0,
  s_churn: 0,
  s_tmax: 0,
  s_tmin: 0,
  s_noise: 0,
  override_settings: {},
  override_settings_restore_afterwards: true,
  refiner_checkpoint: 'string',
  refiner_switch_at: 0,
  disable_extra_networks: false,
  firstpass_image: 'string',
  comments: {},
  resize_mode: 0,
  image_cfg_scale: 0,
  mask: 'string',
  mask_blur_x: 4,
  mask_blur_y: 4,
  mask_blur: 0,
  mask_round: true,
  inpainting_fill: 0,
  inpaint_full_res: true,
  inpaint_full_res_padding: 0,
  inpainting_mask_invert: 0,
  initial_noise_multiplier: 0,
  latent_mask: 'string',
  force_task_id: 'string',
  sampler_index: 'Euler',
  include_init_images: false,
  script_name: 'string',
  script_args: [],
  send_images: true,
  save_images: false,
  alwayson_scripts: {},
  infotext: 'string',
};

/** The JSON code blocks of a seed file (```json fences). */
function jsonBlocks(file: string): unknown[] {
  const text = readFileSync(join(SEEDS_DIR, file), 'utf8');
  return [...text.matchAll(/```json\s*\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as unknown);
}

function seedFile(prefix: string): string | undefined {
  if (!existsSync(SEEDS_DIR)) return undefined;
  return readdirSync(SEEDS_DIR).find((f) => f.startsWith(prefix));
}

describe('seed payloads validate unchanged', () => {
  it('seed 004 (SDXL txt2img with override_settings and refiner)', () => {
    const route = resolveRoute(SEED_004_INPUT.api.method, SEED_004_INPUT.api.endpoint);
    const before = structuredClone(SEED_004_INPUT.payload);
    expect(check(route, SEED_004_INPUT.payload)).not.toThrow();
    expect(SEED_004_INPUT.payload).toEqual(before);
  });

  it('seed 000 (A1111 /docs txt2img body with every field)', () => {
    const before = structuredClone(SEED_000_PAYLOAD);
    expect(check(TXT2IMG, SEED_000_PAYLOAD)).not.toThrow();
    expect(SEED_000_PAYLOAD).toEqual(before);
  });

  const file004 = seedFile('004_');
  const file000 = seedFile('000_');

  it.skipIf(!file004)('seed 004 as read from ../shared/seeds matches the fixture and validates', () => {
    const [request] = jsonBlocks(file004!) as [{ input: { api: { method: string; endpoint: string }; payload: unknown } }];
    expect(request.input).toEqual(SEED_004_INPUT);
    const r = resolveRoute(request.input.api.method, request.input.api.endpoint);
    expect(check(r, request.input.payload)).not.toThrow();
  });

  it.skipIf(!file000)('seed 000 as read from ../shared/seeds matches the fixture and validates', () => {
    const [body] = jsonBlocks(file000!);
    expect(body).toEqual(SEED_000_PAYLOAD);
    expect(check(TXT2IMG, body)).not.toThrow();
  });

  it('an img2img payload with every A1111 field validates', () => {
    expect(check(IMG2IMG, IMG2IMG_ALL_FIELDS)).not.toThrow();
  });

  it('the interrogate example of seed 001 validates', () => {
    expect(check(route('POST', 'interrogate'), { image: 'string', model: 'clip' })).not.toThrow();
  });
});

describe('what A1111 v1.10.1 accepts goes through (issue 11)', () => {
  it.each([
    ['width 900 (A1111 floors the latent)', TXT2IMG, { width: 900, height: 1000 }],
    ['seed as a numeric string', TXT2IMG, { seed: '123' }],
    ['restore_faces 0', TXT2IMG, { restore_faces: 0 }],
    ['booleans as strings', TXT2IMG, { enable_hr: 'false', tiling: 'yes', send_images: 1 }],
    ['a float for an int (pydantic 1 truncates)', TXT2IMG, { steps: 20.7, batch_size: '2' }],
    ['cfg_scale 35', TXT2IMG, { cfg_scale: 35 }],
    ['a negative seed below -1 and a huge one', TXT2IMG, { seed: -5, subseed: 2 ** 60 }],
    ['numbers for strings (pydantic 1 str())', TXT2IMG, { prompt: 5, sampler_name: 'Euler' }],
    ['inpainting_mask_invert true', IMG2IMG, { init_images: ['x'], inpainting_mask_invert: true }],
    ['any override_settings value', TXT2IMG, { override_settings: { emphasis: 'No norm', forge_additional_modules: ['a', 'b'], x: { y: 1 } } }],
    ['alwayson_scripts of any shape', TXT2IMG, { alwayson_scripts: { 'Simple wildcards': [], controlnet: { args: [{ enabled: true }], other: 1 } } }],
    ['null for Optional fields', TXT2IMG, { negative_prompt: null, seed: null, sampler_name: null, styles: null, override_settings: null, script_name: null }],
    ['extras upscaling_resize 10', route('POST', 'extra-single-image'), { image: 'x', upscaling_resize: 10 }],
    ['every field A1111 /docs shows for img2img', IMG2IMG, IMG2IMG_ALL_FIELDS],
  ] as Array<[string, RouteSpec, Record<string, unknown>]>)('%s', (_label, r, payload) => {
    const before = structuredClone(payload);
    expect(check(r, payload)).not.toThrow();
    expect(payload).toStrictEqual(before);
  });

  it('gives the caps the value pydantic reads', () => {
    expect(validatePayload(TXT2IMG, { steps: '30', batch_size: 2.9 }, LIMITS).view).toMatchObject({ steps: 30, batch_size: 2 });
    expect(messageOf(check(TXT2IMG, { steps: '400' }))).toContain('steps: 400 is over MAX_STEPS=150');
  });
});

describe('null where A1111 refuses it or fails on it', () => {
  it('refuses null for a field A1111 passes on as None and crashes on, with its default', () => {
    const m = messageOf(check(TXT2IMG, { steps: null, width: null, prompt: null }));
    expect(m).toContain('prompt: null is not accepted by A1111 (it would fail with a 500: processing asserts that the prompt is not None (AssertionError)); omit the field for its default ""');
    expect(m).toContain('steps: null is not accepted by A1111 (it would fail with a 500');
    expect(m).toContain('omit the field for its default 50');
    expect(m).toContain('width: null is not accepted');
  });

  it('refuses null for the API-only fields that are not Optional (422)', () => {
    const m = messageOf(check(TXT2IMG, { send_images: null, script_args: null, alwayson_scripts: null, sampler_index: null }));
    expect(m).toContain('send_images: null is not accepted by A1111 (422: the field is not Optional); omit the field for its default true');
    for (const f of ['script_args', 'alwayson_scripts', 'sampler_index']) expect(m).toContain(`${f}: null is not accepted`);
  });

  it('refuses null for img2img denoising_strength (not Optional there) but not for txt2img', () => {
    expect(messageOf(check(IMG2IMG, { init_images: ['x'], denoising_strength: null }))).toContain('denoising_strength: null is not accepted by A1111 (422');
    expect(check(TXT2IMG, { denoising_strength: null })).not.toThrow();
  });

  it('refuses null for extras fields (not Optional in A1111)', () => {
    expect(messageOf(check(route('POST', 'extra-single-image'), { image: 'x', upscaling_resize: null }))).toContain('upscaling_resize: null is not accepted by A1111 (422');
  });
});

describe('what A1111 refuses or certainly fails on is refused first', () => {
  it('an alwayson_scripts value A1111 cannot test for "args" (null, a number, a boolean)', () => {
    const m = messageOf(check(TXT2IMG, { alwayson_scripts: { a: null, b: 1, c: true, d: [], e: 'x', f: { args: [] } } }));
    for (const k of ['a', 'b', 'c']) expect(m).toContain(`alwayson_scripts.${k}:`);
    for (const k of ['d', 'e', 'f']) expect(m).not.toContain(`alwayson_scripts.${k}:`);
    expect(m).toContain('A1111 fails with a 500 TypeError on it ("args" in value)');
  });

  it('names a wrong type with what pydantic takes', () => {
    const m = messageOf(check(TXT2IMG, { steps: 'many', enable_hr: 'maybe', styles: 'anime', override_settings: 'x' }));
    expect(m).toContain('steps: "many" is not allowed (must be an integer (or a string of one))');
    expect(m).toContain('enable_hr: "maybe" is not allowed (must be a boolean');
    expect(m).toContain('styles: "anime" is not allowed (must be an array)');
    expect(m).toContain('override_settings: "x" is not allowed (must be an object)');
  });

  it('keeps the constraints A1111 has (extras ge/le/gt, Literal)', () => {
    const r = route('POST', 'extra-single-image');
    const m = messageOf(check(r, { image: 'x', gfpgan_visibility: 2, upscaling_resize: 0, resize_mode: 2 }));
    expect(m).toContain('gfpgan_visibility: 2 is not allowed (must be <= 1)');
    expect(m).toContain('upscaling_resize: 0 is not allowed (must be > 0)');
    expect(m).toContain('resize_mode: 2 is not allowed (must be one of 0, 1)');
  });

  it('img2img without init_images (A1111 404) and with more images than batch_size (A1111 500)', () => {
    expect(messageOf(check(IMG2IMG, { prompt: 'x' }))).toContain('init_images: is required: A1111 answers 404 "Init image not found"');
    expect(messageOf(check(IMG2IMG, { init_images: ['a', 'b', 'c'], batch_size: 2 }))).toContain('3 images need batch_size >= 3');
    expect(check(IMG2IMG, { init_images: ['a', 'b'], batch_size: '2' })).not.toThrow();
  });

  it('hires fix without denoising_strength (A1111 500 TypeError)', () => {
    expect(messageOf(check(TXT2IMG, { enable_hr: true }))).toContain('denoising_strength: is required with enable_hr: true');
    expect(check(TXT2IMG, { enable_hr: 'true', denoising_strength: 0.5 })).not.toThrow();
    expect(check(TXT2IMG, { enable_hr: false })).not.toThrow();
  });

  it('interrogate: a model A1111 does not have (404) and no image', () => {
    const r = route('POST', 'interrogate');
    expect(messageOf(check(r, { image: 'x', model: 'blip' }))).toContain('model: "blip" is not allowed (must be "clip" or "deepdanbooru"');
    expect(messageOf(check(r, { model: 'clip' }))).toContain('image: is required');
  });
});

describe('unknown fields', () => {
  it('suggests the field, a transposition counting as one edit', () => {
    expect(messageOf(check(TXT2IMG, { stpes: 3 }))).toBe('invalid payload for POST /sdapi/v1/txt2img: stpes: unknown field (did you mean "steps"?)');
    expect(messageOf(check(TXT2IMG, { cfgScale: 3 }))).toContain('did you mean "cfg_scale"?');
    expect(messageOf(check(TXT2IMG, { num_inference_steps: 3 }))).toContain('did you mean "steps"?');
  });

  it('says which route takes a txt2img-only or img2img-only field', () => {
    expect(messageOf(check(TXT2IMG, { init_images: ['x'] }))).toContain('only img2img takes it');
    expect(messageOf(check(IMG2IMG, { init_images: ['x'], enable_hr: true }))).toContain('only txt2img takes it');
  });

  it('names Forge fields as Forge-only on A1111, and takes them on Forge', () => {
    const m = messageOf(check(TXT2IMG, { distilled_cfg_scale: 3.5 }));
    expect(m).toContain('distilled_cfg_scale: unknown field: Forge takes it');
    const forge = parseOpenApi(FORGE_OPENAPI, 'http://forge');
    expect(check(TXT2IMG, { distilled_cfg_scale: 3.5, hr_cfg: 1, hr_distilled_cfg: 3.5, hr_additional_modules: ['Use same choices'] }, LIMITS, { model: forge })).not.toThrow();
  });

  it('UNKNOWN_FIELDS=warn passes them on with a warning line', () => {
    const r = validatePayload(TXT2IMG, { stpes: 3, prompt: 'x' }, LIMITS, { unknownFields: 'warn' });
    expect(r.warnings).toEqual(['stpes: unknown field (did you mean "steps"?); passed on (UNKNOWN_FIELDS=warn), A1111 ignores it']);
  });

  it('checks the items of imageList', () => {
    const m = messageOf(check(route('POST', 'extra-batch-images'), { imageList: [{ data: 'x' }, { data: 'x', name: 'a', nmae: 'b' }] }));
    expect(m).toContain('imageList[0].name: is required');
    expect(m).toContain('imageList[1].nmae: unknown field (did you mean "name"?)');
  });

  it('suggestField', () => {
    expect(suggestField('stepz', ['steps', 'seed'])).toBe('steps');
    expect(suggestField('stpes', ['styles', 'steps'])).toBe('steps');
    expect(suggestField('SEED', ['steps', 'seed'])).toBe('seed');
    expect(suggestField('completely_else', ['seed'])).toBeUndefined();
  });
});

describe('pydantic 2 (Forge) reads values more strictly', () => {
  const forge = parseOpenApi(FORGE_OPENAPI, 'http://forge');
  it('refuses a fraction for an int and a number for a string', () => {
    const m = messageOf(check(TXT2IMG, { steps: 3.5, prompt: 5 }, LIMITS, { model: forge }));
    expect(m).toContain('steps: 3.5 is not allowed (must be an integer (pydantic 2 refuses a number with a fraction))');
    expect(m).toContain('prompt: 5 is not allowed (must be a string (pydantic 2 does not take numbers for strings))');
  });
  it('takes integer strings and booleans as 0/1', () => {
    expect(check(TXT2IMG, { steps: '20', restore_faces: 0 }, LIMITS, { model: forge })).not.toThrow();
  });
  it('reads nullability from anyOf null', () => {
    expect(messageOf(check(TXT2IMG, { send_images: null }, LIMITS, { model: forge }))).toContain('send_images: null is not accepted');
    expect(messageOf(check(TXT2IMG, { steps: null }, LIMITS, { model: forge }))).toContain('it would fail with a 500');
  });
});

describe('messages', () => {
  it('list several offending fields at once and stay one line', () => {
    const m = messageOf(check(TXT2IMG, { steps: 'x', stpes: 1, 'odd\nkey': 1 }));
    expect(m.split('; ').length).toBe(3);
  });
});

describe('routes without a payload', () => {
  const r = route('GET', 'samplers');
  it('accept nothing, null and {}', () => {
    for (const p of [undefined, null, {}]) expect(check(r, p)).not.toThrow();
  });
  it('refuse anything else, naming what was sent', () => {
    expect(messageOf(check(r, { a: 1 }))).toBe('payload is not accepted for GET /sdapi/v1/samplers (got an object with key a); send no payload, null or {}');
  });
});

describe('POST routes with a model need a JSON object', () => {
  it.each([[undefined], [null], [[]], ['{"prompt":"x"}'], [42]])('refuses %j', (p) => {
    expect(messageOf(check(TXT2IMG, p))).toMatch(/^payload for POST \/sdapi\/v1\/txt2img must be a JSON object/);
  });
  it('options takes any object (its keys are checked by settings.ts)', () => {
    expect(check(route('POST', 'options'), { anything: [1, 2] })).not.toThrow();
  });
});

describe('no mutation, no defaults', () => {
  function deepFreeze<T>(value: T): T {
    if (typeof value === 'object' && value !== null) {
      for (const v of Object.values(value)) deepFreeze(v);
      Object.freeze(value);
    }
    return value;
  }

  it.each([
    ['seed 004', TXT2IMG, SEED_004_INPUT.payload],
    ['seed 000', TXT2IMG, SEED_000_PAYLOAD],
    ['img2img all fields', IMG2IMG, IMG2IMG_ALL_FIELDS],
    ['sparse txt2img', TXT2IMG, { prompt: 'a cat' }],
    ['sparse img2img', IMG2IMG, { init_images: ['abc'] }],
    ['invalid txt2img', TXT2IMG, { stepz: 1, steps: null, seed: '12', alwayson_scripts: { x: { args: 1 } } }],
    ['sparse extras', route('POST', 'extra-single-image'), { image: 'abc' }],
  ] as Array<[string, RouteSpec, Record<string, unknown>]>)('leaves %s deep-equal and adds no keys', (_label, r, payload) => {
    const before = structuredClone(payload);
    try {
      validatePayload(r, payload, LIMITS);
    } catch {
      // only mutation matters here
    }
    expect(payload).toStrictEqual(before);
    expect(Object.keys(payload)).toEqual(Object.keys(before));
    // Frozen input: validation must not try to write to it.
    const frozen = deepFreeze(structuredClone(before));
    let thrown: unknown;
    try {
      validatePayload(r, frozen, LIMITS);
    } catch (e) {
      thrown = e;
    }
    if (thrown !== undefined) expect(thrown).toBeInstanceOf(JobInputError);
  });
});

describe('schema files: the bundled A1111 v1.10.1 model', () => {
  const dir = join(REPO_ROOT, 'schemas');
  const names = ['txt2img', 'img2img', 'interrogate', 'extra-single-image', 'extra-batch-images', 'png-info', 'options'];

  it.each(names)('%s.json names its model and route, draft-07', (name) => {
    const schema = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.title).toContain(`/sdapi/v1/${name}`);
    expect(typeof schema['x-model']).toBe('string');
    expect(schema.type).toBe('object');
  });

  it('has no range A1111 does not have', () => {
    for (const s of [txt2imgSchema, img2imgSchema]) {
      for (const [k, v] of Object.entries(s.properties)) {
        for (const bound of ['minimum', 'maximum', 'multipleOf', 'exclusiveMinimum', 'maxItems', 'minItems']) expect(v, `${k}.${bound}`).not.toHaveProperty(bound);
      }
    }
  });

  it('txt2img and img2img share the base fields; hr_* are txt2img only; A1111 defaults', () => {
    const t = txt2imgSchema.properties as Record<string, { default?: unknown }>;
    const i = img2imgSchema.properties as Record<string, { default?: unknown }>;
    expect(Object.keys(t).filter((k) => k.startsWith('hr_'))).toHaveLength(10);
    expect(Object.keys(i).filter((k) => k.startsWith('hr_') || k === 'enable_hr')).toEqual([]);
    for (const k of Object.keys(SEED_000_PAYLOAD)) expect(Object.keys(t)).toContain(k);
    for (const k of Object.keys(IMG2IMG_ALL_FIELDS)) expect(Object.keys(i)).toContain(k);
    expect(t.denoising_strength!.default).toBeNull();
    expect(i.denoising_strength!.default).toBe(0.75);
    expect(t.steps!.default).toBe(50);
    expect(t.sampler_index!.default).toBe('Euler');
  });
});
