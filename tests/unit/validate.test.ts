import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type LimitsConfig } from '../../handler/config.js';
import { JobInputError } from '../../handler/jobs/errors.js';
import { ROUTES, resolveRoute, type RouteSpec } from '../../handler/jobs/routes.js';
import { suggestField, validatePayload } from '../../handler/jobs/validate.js';
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

const check = (r: RouteSpec, payload: unknown, limits: LimitsConfig = LIMITS) => () => validatePayload(r, payload, limits);

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

/** An img2img payload with every A1111 field at its default (as A1111's /docs renders it, spec §2.7). */
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

describe('null for Optional generation fields', () => {
  it('accepts null for every txt2img field', () => {
    const payload = Object.fromEntries(Object.keys(txt2imgSchema.properties).map((k) => [k, null]));
    expect(Object.keys(payload).length).toBeGreaterThan(50);
    expect(check(TXT2IMG, payload)).not.toThrow();
  });

  it('accepts null for every img2img field but init_images', () => {
    const payload: Record<string, unknown> = Object.fromEntries(Object.keys(img2imgSchema.properties).map((k) => [k, null]));
    payload.init_images = ['abc'];
    expect(check(IMG2IMG, payload)).not.toThrow();
    payload.init_images = null;
    expect(messageOf(check(IMG2IMG, payload))).toContain('init_images: null is not allowed (must be an array)');
  });

  it('refuses null for extras fields (not Optional in A1111)', () => {
    const m = messageOf(check(route('POST', 'extra-single-image'), { image: 'abc', upscaling_resize: null, upscaler_1: null }));
    expect(m).toContain('upscaling_resize: null is not allowed (must be a number)');
    expect(m).toContain('upscaler_1: null is not allowed (must be a string)');
  });
});

describe('numeric rules name the field', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['width not a multiple of 8', { width: 1020 }, 'width: 1020 is not allowed (must be a multiple of 8)'],
    ['height not a multiple of 8', { height: 513 }, 'height: 513 is not allowed (must be a multiple of 8)'],
    ['width below 64', { width: 56 }, 'width: 56 is not allowed (must be >= 64)'],
    ['height above 2048', { height: 2056 }, 'height: 2056 is not allowed (must be <= 2048)'],
    ['width float', { width: 512.5 }, 'width: 512.5 is not allowed (must be an integer or null)'],
    ['steps above MAX_STEPS', { steps: 500 }, 'steps: 500 is over MAX_STEPS=150'],
    ['steps above the hard bound', { steps: 20000 }, 'steps: 20000 is over MAX_STEPS=150'],
    ['steps 0', { steps: 0 }, 'steps: 0 is not allowed (must be >= 1)'],
    ['steps 7.5', { steps: 7.5 }, 'steps: 7.5 is not allowed (must be an integer or null)'],
    ['steps as a string', { steps: '20' }, 'steps: "20" is not allowed (must be an integer or null)'],
    ['seed 7.5', { seed: 7.5 }, 'seed: 7.5 is not allowed (must be an integer or null)'],
    ['seed below -1', { seed: -2 }, 'seed: -2 is not allowed (must be >= -1)'],
    ['subseed 1.5', { subseed: 1.5 }, 'subseed: 1.5 is not allowed (must be an integer or null)'],
    ['batch_size 0', { batch_size: 0 }, 'batch_size: 0 is not allowed (must be >= 1)'],
    ['batch_size 1.5', { batch_size: 1.5 }, 'batch_size: 1.5 is not allowed (must be an integer or null)'],
    ['n_iter 0', { n_iter: 0 }, 'n_iter: 0 is not allowed (must be >= 1)'],
    ['cfg_scale above 30', { cfg_scale: 31 }, 'cfg_scale: 31 is not allowed (must be <= 30)'],
    ['cfg_scale negative', { cfg_scale: -1 }, 'cfg_scale: -1 is not allowed (must be >= 0)'],
    ['denoising_strength above 1', { denoising_strength: 1.5 }, 'denoising_strength: 1.5 is not allowed (must be <= 1)'],
    ['hr_second_pass_steps above MAX_HR_STEPS', { hr_second_pass_steps: 151 }, 'hr_second_pass_steps: 151 is over MAX_HR_STEPS=150'],
    ['hr_second_pass_steps negative', { hr_second_pass_steps: -1 }, 'hr_second_pass_steps: -1 is not allowed (must be >= 0)'],
    ['hr_resize_x float', { hr_resize_x: 1024.5 }, 'hr_resize_x: 1024.5 is not allowed (must be an integer or null)'],
    ['hr_scale 0', { hr_scale: 0 }, 'hr_scale: 0 is not allowed (must be > 0)'],
    ['firstphase_width float', { firstphase_width: 0.5 }, 'firstphase_width: 0.5 is not allowed (must be an integer or null)'],
    ['seed_resize_from_w float', { seed_resize_from_w: 3.5 }, 'seed_resize_from_w: 3.5 is not allowed (must be an integer or null)'],
    ['enable_hr as a number', { enable_hr: 1 }, 'enable_hr: 1 is not allowed (must be a boolean or null)'],
  ];

  it.each(cases)('txt2img: %s', (_label, payload, expected) => {
    expect(messageOf(check(TXT2IMG, payload))).toBe(`invalid payload for POST /sdapi/v1/txt2img: ${expected}`);
  });

  it('accepts floats where A1111 takes floats and the range edges', () => {
    const ok = [
      { cfg_scale: 7.5 },
      { cfg_scale: 0 },
      { cfg_scale: 30 },
      { denoising_strength: 0 },
      { denoising_strength: 1 },
      { hr_scale: 1.5 },
      { width: 64, height: 2048 },
      { steps: 1 },
      { steps: 150 },
      { hr_second_pass_steps: 0 },
      { seed: -1 },
      { seed: 4294967295 },
      { subseed_strength: 0.25 },
      { width: 512.0 },
    ];
    for (const payload of ok) expect(check(TXT2IMG, payload), JSON.stringify(payload)).not.toThrow();
  });

  const img2imgCases: Array<[string, Record<string, unknown>, string]> = [
    ['mask_blur float', { mask_blur: 4.5 }, 'mask_blur: 4.5 is not allowed (must be an integer or null)'],
    ['mask_blur_x negative', { mask_blur_x: -1 }, 'mask_blur_x: -1 is not allowed (must be >= 0)'],
    ['inpainting_fill out of range', { inpainting_fill: 4 }, 'inpainting_fill: 4 is not allowed (must be one of 0, 1, 2, 3, null)'],
    ['resize_mode as a string', { resize_mode: 'crop' }, 'resize_mode: "crop" is not allowed (must be one of 0, 1, 2, 3, null)'],
    ['inpaint_full_res_padding float', { inpaint_full_res_padding: 32.5 }, 'inpaint_full_res_padding: 32.5 is not allowed (must be an integer or null)'],
    ['inpainting_mask_invert 2', { inpainting_mask_invert: 2 }, 'inpainting_mask_invert: 2 is not allowed (must be one of 0, 1, null)'],
    ['width on img2img', { width: 100 }, 'width: 100 is not allowed (must be a multiple of 8)'],
  ];

  it.each(img2imgCases)('img2img: %s', (_label, payload, expected) => {
    expect(messageOf(check(IMG2IMG, { init_images: ['abc'], ...payload }))).toBe(`invalid payload for POST /sdapi/v1/img2img: ${expected}`);
  });
});

describe('images per job (batch_size × n_iter)', () => {
  it('refuses a product above the limit and names both fields and the product', () => {
    expect(messageOf(check(TXT2IMG, { batch_size: 5, n_iter: 4 }))).toBe(
      'invalid payload for POST /sdapi/v1/txt2img: batch_size × n_iter: 5 × 4 = 20 images is over the limit of 16 per job (MAX_IMAGES_PER_JOB)',
    );
  });

  it('accepts a product equal to the limit', () => {
    expect(check(TXT2IMG, { batch_size: 4, n_iter: 4 })).not.toThrow();
    expect(check(TXT2IMG, { batch_size: 16 })).not.toThrow();
  });

  it('counts an absent or null field as 1', () => {
    expect(messageOf(check(TXT2IMG, { batch_size: 17 }))).toContain('batch_size × n_iter: 17 × 1 = 17 images');
    expect(messageOf(check(TXT2IMG, { batch_size: null, n_iter: 17 }))).toContain('batch_size × n_iter: 1 × 17 = 17 images');
  });

  it('uses the configured limit', () => {
    expect(check(TXT2IMG, { batch_size: 8, n_iter: 8 }, { ...LIMITS, maxImagesPerJob: 64 })).not.toThrow();
    expect(messageOf(check(TXT2IMG, { batch_size: 2, n_iter: 2 }, { ...LIMITS, maxImagesPerJob: 3 }))).toContain(
      '2 × 2 = 4 images is over the limit of 3 per job',
    );
  });

  it('applies to img2img', () => {
    expect(messageOf(check(IMG2IMG, { init_images: ['abc'], batch_size: 4, n_iter: 5 }))).toContain('batch_size × n_iter: 4 × 5 = 20');
  });

  it('does not apply to routes that do not generate', () => {
    expect(messageOf(check(route('POST', 'options'), { batch_size: 100, n_iter: 100 }))).not.toContain('MAX_IMAGES_PER_JOB');
  });

  it('is listed together with the schema errors', () => {
    const m = messageOf(check(TXT2IMG, { batch_size: 8, n_iter: 8, steps: 0 }));
    expect(m).toContain('steps: 0 is not allowed');
    expect(m).toContain('8 × 8 = 64');
  });
});

describe('unknown fields', () => {
  it('suggests the close field name', () => {
    expect(messageOf(check(TXT2IMG, { stepz: 20 }))).toBe(
      'invalid payload for POST /sdapi/v1/txt2img: stepz: unknown field (did you mean "steps"?)',
    );
    expect(messageOf(check(TXT2IMG, { Prompt: 'a cat' }))).toBe(
      'invalid payload for POST /sdapi/v1/txt2img: Prompt: unknown field (did you mean "prompt"?)',
    );
    expect(messageOf(check(TXT2IMG, { cfgScale: 7 }))).toContain('cfgScale: unknown field (did you mean "cfg_scale"?)');
    expect(messageOf(check(TXT2IMG, { negativ_prompt: '' }))).toContain('did you mean "negative_prompt"?');
    expect(messageOf(check(IMG2IMG, { init_image: 'abc' }))).toContain('init_image: unknown field (did you mean "init_images"?)');
    expect(messageOf(check(route('POST', 'interrogate'), { image: 'a', modle: 'clip' }))).toContain('did you mean "model"?');
  });

  it('does not suggest a far name', () => {
    expect(messageOf(check(TXT2IMG, { zzzzzzzz: 1 }))).toBe('invalid payload for POST /sdapi/v1/txt2img: zzzzzzzz: unknown field');
  });

  it('gives hints for names from other APIs', () => {
    const m = messageOf(check(TXT2IMG, { num_inference_steps: 20, guidance_scale: 7, model: 'x', loras: [] }));
    expect(m).toContain('num_inference_steps: unknown field (did you mean "steps"?)');
    expect(m).toContain('guidance_scale: unknown field (did you mean "cfg_scale"?)');
    expect(m).toContain('model: unknown field (choose the checkpoint with override_settings.sd_model_checkpoint)');
    expect(m).toContain('loras: unknown field (add LoRAs to the prompt as <lora:name:weight>)');
  });

  it('says which route takes a txt2img-only or img2img-only field', () => {
    expect(messageOf(check(IMG2IMG, { init_images: ['abc'], hr_scale: 2 }))).toContain('hr_scale: unknown field (only txt2img takes it)');
    expect(messageOf(check(TXT2IMG, { init_images: ['abc'] }))).toContain('init_images: unknown field (only img2img takes it)');
  });

  it('refuses unknown keys inside alwayson_scripts entries with their path', () => {
    expect(messageOf(check(TXT2IMG, { alwayson_scripts: { ADetailer: { arg: [] } } }))).toContain(
      'alwayson_scripts.ADetailer.arg: unknown field (did you mean "args"?)',
    );
  });

  it('quotes odd keys', () => {
    const m = messageOf(check(TXT2IMG, JSON.parse('{"__proto__": 1, "a b": 2}')));
    expect(m).toContain('__proto__: unknown field');
    expect(m).toContain('["a b"]: unknown field');
  });

  it('suggestField', () => {
    expect(suggestField('stepz', ['steps', 'seed'])).toBe('steps');
    expect(suggestField('SEED', ['steps', 'seed'])).toBe('seed');
    expect(suggestField('eat', ['eta'])).toBeUndefined();
    expect(suggestField('sed', ['seed'])).toBe('seed');
    expect(suggestField('completely_else', ['seed'])).toBeUndefined();
  });
});

describe('structured fields', () => {
  it('requires override_settings to be an object', () => {
    expect(messageOf(check(TXT2IMG, { override_settings: 'sd_xl' }))).toContain(
      'override_settings: "sd_xl" is not allowed (must be an object or null)',
    );
    expect(check(TXT2IMG, { override_settings: { sd_vae: 'sdxl_vae.safetensors', CLIP_stop_at_last_layers: 2 } })).not.toThrow();
    expect(check(TXT2IMG, { override_settings: {} })).not.toThrow();
    expect(check(TXT2IMG, { override_settings: null })).not.toThrow();
  });

  it('requires alwayson_scripts to be an object of {args: []}', () => {
    expect(check(TXT2IMG, { alwayson_scripts: { controlnet: { args: [{ enabled: true, module: 'canny' }] }, other: {} } })).not.toThrow();
    expect(messageOf(check(TXT2IMG, { alwayson_scripts: { controlnet: { args: 'x' } } }))).toContain(
      'alwayson_scripts.controlnet.args: "x" is not allowed (must be an array)',
    );
    expect(messageOf(check(TXT2IMG, { alwayson_scripts: { controlnet: [] } }))).toContain(
      'alwayson_scripts.controlnet: [] is not allowed (must be an object)',
    );
    expect(messageOf(check(TXT2IMG, { alwayson_scripts: [] }))).toContain('alwayson_scripts: [] is not allowed (must be an object or null)');
  });

  it('requires script_args to be an array and styles an array of strings', () => {
    expect(messageOf(check(TXT2IMG, { script_args: {} }))).toContain('script_args: {} is not allowed (must be an array or null)');
    expect(messageOf(check(TXT2IMG, { styles: 'anime' }))).toContain('styles: "anime" is not allowed (must be an array or null)');
    expect(messageOf(check(TXT2IMG, { styles: ['a', 2] }))).toContain('styles[1]: 2 is not allowed (must be a string)');
  });
});

describe('img2img init_images', () => {
  it('is required', () => {
    expect(messageOf(check(IMG2IMG, { prompt: 'x' }))).toBe('invalid payload for POST /sdapi/v1/img2img: init_images: is required');
  });

  it('needs 1 to MAX_INPUT_IMAGES non-empty strings', () => {
    expect(messageOf(check(IMG2IMG, { init_images: [] }))).toContain('init_images: [] is not allowed (must have at least 1 item)');
    expect(messageOf(check(IMG2IMG, { init_images: Array(17).fill('a'), batch_size: 16 }))).toContain(
      'init_images: 17 images is over MAX_INPUT_IMAGES=16',
    );
    expect(messageOf(check(IMG2IMG, { init_images: Array(1001).fill('a'), batch_size: 16 }))).toContain(
      'init_images: 1001 images is over MAX_INPUT_IMAGES=16',
    );
    const many = { ...LIMITS, maxInputImages: 1000 };
    expect(messageOf(check(IMG2IMG, { init_images: Array(1001).fill('a'), batch_size: 16 }, many))).toContain(
      'init_images: 1001 images is over MAX_INPUT_IMAGES=1000',
    );
    expect(messageOf(check(IMG2IMG, { init_images: [5] }))).toContain('init_images[0]: 5 is not allowed (must be a string)');
    expect(messageOf(check(IMG2IMG, { init_images: [''] }))).toContain('init_images[0]: "" is not allowed (must not be empty)');
    expect(messageOf(check(IMG2IMG, { init_images: 'abc' }))).toContain('init_images: "abc" is not allowed (must be an array)');
  });

  it('needs batch_size >= the number of images when there is more than one', () => {
    expect(check(IMG2IMG, { init_images: ['a'], batch_size: 4 })).not.toThrow();
    expect(check(IMG2IMG, { init_images: ['a', 'b'], batch_size: 2 })).not.toThrow();
    expect(messageOf(check(IMG2IMG, { init_images: ['a', 'b'] }))).toContain(
      'init_images: 2 images need batch_size >= 2 (got batch_size 1, the default;',
    );
    expect(messageOf(check(IMG2IMG, { init_images: ['a', 'b', 'c'], batch_size: 2 }))).toContain('(got batch_size 2;');
  });
});

describe('messages', () => {
  it('list several offending fields at once, one reason each', () => {
    const m = messageOf(
      check(TXT2IMG, { width: 1020, steps: 500, stepz: 1, seed: 7.5, cfg_scale: 'high', override_settings: 3 }),
    );
    expect(m.startsWith('invalid payload for POST /sdapi/v1/txt2img: ')).toBe(true);
    for (const part of [
      'width: 1020 is not allowed (must be a multiple of 8)',
      'steps: 500 is over MAX_STEPS=150',
      'stepz: unknown field (did you mean "steps"?)',
      'seed: 7.5 is not allowed (must be an integer or null)',
      'cfg_scale: "high" is not allowed (must be a number or null)',
      'override_settings: 3 is not allowed (must be an object or null)',
    ]) {
      expect(m).toContain(part);
    }
    expect(m.split('; ')).toHaveLength(6);
  });

  it('give one entry per field with every reason', () => {
    const m = messageOf(check(TXT2IMG, { width: 4001 }));
    expect(m).toBe('invalid payload for POST /sdapi/v1/txt2img: width: 4001 is not allowed (must be <= 2048 and must be a multiple of 8)');
  });

  it('show one reason for a wrong type in an enum field (no type/enum noise)', () => {
    const m = messageOf(check(route('POST', 'extra-single-image'), { image: 'abc', resize_mode: '1' }));
    expect(m).toBe('invalid payload for POST /sdapi/v1/extra-single-image: resize_mode: "1" is not allowed (must be one of 0, 1)');
  });

  it('shorten long values: base64 as <string of N chars>, text cut at 40 characters', () => {
    const b64 = 'iVBORw0KGgo'.repeat(1000);
    const dataUri = `data:image/png;base64,${b64}`;
    expect(messageOf(check(TXT2IMG, { prompt: 5, firstpass_image: 12, hr_prompt: dataUri.length, seed: dataUri }))).toContain(
      `seed: <string of ${dataUri.length} chars> is not allowed (must be an integer or null)`,
    );
    const m = messageOf(check(route('POST', 'interrogate'), { image: b64, model: b64 }));
    expect(m).toContain(`model: <string of ${b64.length} chars> is not allowed (must be one of "clip", "deepdanbooru")`);
    const text = 'a very long prompt that keeps going and going and going';
    const m2 = messageOf(check(route('POST', 'interrogate'), { image: 'x', model: text }));
    expect(m2).toContain(`model: ${JSON.stringify(text.slice(0, 40))}… (${text.length} chars) is not allowed`);
    expect(m2.length).toBeLessThan(200);
  });

  it('summarise big arrays and objects', () => {
    const m = messageOf(check(TXT2IMG, { prompt: Array(50).fill('x'), negative_prompt: { a: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' } }));
    expect(m).toContain('prompt: an array of 50 items is not allowed (must be a string or null)');
    expect(m).toContain('negative_prompt: an object with 1 key is not allowed (must be a string or null)');
  });

  it('stay one line with control characters in keys and values', () => {
    const m = messageOf(check(TXT2IMG, { 'bad\nkey': 1, prompt: 3, sampler_name: ['a\nb'] }));
    expect(m).toContain('["bad\\nkey"]: unknown field');
    expect(m).toContain('sampler_name: ["a\\nb"] is not allowed');
  });

  it('cap the number of listed fields', () => {
    const payload = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`unknown_${i}`, i]));
    const m = messageOf(check(TXT2IMG, payload));
    expect(m).toContain('unknown_49: unknown field');
    expect(m).not.toContain('unknown_50:');
    expect(m).toMatch(/; and 30 more fields$/);
  });
});

describe('routes without a payload schema', () => {
  const samplers = route('GET', 'samplers');
  const refresh = route('POST', 'refresh-checkpoints');

  it.each([[undefined], [null], [{}]])('accept %j', (payload) => {
    expect(check(samplers, payload)).not.toThrow();
    expect(check(refresh, payload)).not.toThrow();
    expect(check(route('GET', 'options'), payload)).not.toThrow();
  });

  it('refuse anything else, naming what was sent', () => {
    expect(messageOf(check(samplers, { a: 1, b: 2 }))).toBe(
      'payload is not accepted for GET /sdapi/v1/samplers (got an object with keys a, b); send no payload, null or {}',
    );
    expect(messageOf(check(refresh, []))).toBe(
      'payload is not accepted for POST /sdapi/v1/refresh-checkpoints (got an array of 0 items); send no payload, null or {}',
    );
    expect(messageOf(check(samplers, 'x'))).toContain('(got a string "x")');
    expect(messageOf(check(samplers, 0))).toContain('(got a number 0)');
    expect(messageOf(check(samplers, false))).toContain('(got a boolean false)');
  });
});

describe('POST routes with a schema need a JSON object', () => {
  it.each([
    [undefined, 'nothing'],
    [null, 'null'],
    [[], 'an array of 0 items'],
    ['{"prompt":"x"}', 'a string "{\\"prompt\\":\\"x\\"}"'],
    [42, 'a number 42'],
  ])('refuses %j', (payload, got) => {
    expect(messageOf(check(TXT2IMG, payload))).toBe(`payload for POST /sdapi/v1/txt2img must be a JSON object (got ${got})`);
  });

  it('accepts {} for txt2img (every field Optional)', () => {
    expect(check(TXT2IMG, {})).not.toThrow();
  });
});

describe('interrogate, extras, png-info, options', () => {
  it('interrogate: model is clip or deepdanbooru, image required', () => {
    expect(check(route('POST', 'interrogate'), { image: 'abc' })).not.toThrow();
    expect(check(route('POST', 'interrogate'), { image: 'abc', model: 'deepdanbooru' })).not.toThrow();
    expect(messageOf(check(route('POST', 'interrogate'), { image: 'abc', model: 'blip' }))).toContain(
      'model: "blip" is not allowed (must be one of "clip", "deepdanbooru")',
    );
    expect(messageOf(check(route('POST', 'interrogate'), {}))).toContain('image: is required');
  });

  it('extra-single-image: ranges of §2.13', () => {
    const r = route('POST', 'extra-single-image');
    expect(
      check(r, {
        image: 'abc',
        resize_mode: 1,
        show_extras_results: true,
        gfpgan_visibility: 0.5,
        codeformer_visibility: 1,
        codeformer_weight: 0,
        upscaling_resize: 4,
        upscaling_resize_w: 1024,
        upscaling_resize_h: 768,
        upscaling_crop: true,
        upscaler_1: 'R-ESRGAN 4x+',
        upscaler_2: 'None',
        extras_upscaler_2_visibility: 0.3,
        upscale_first: false,
      }),
    ).not.toThrow();
    const m = messageOf(
      check(r, {
        image: 'abc',
        resize_mode: 2,
        gfpgan_visibility: 1.5,
        codeformer_weight: -0.1,
        upscaling_resize: 0,
        upscaling_resize_w: 0,
        upscaling_resize_h: 10.5,
        extras_upscaler_2_visibility: 2,
      }),
    );
    for (const part of [
      'resize_mode: 2 is not allowed (must be one of 0, 1)',
      'gfpgan_visibility: 1.5 is not allowed (must be <= 1)',
      'codeformer_weight: -0.1 is not allowed (must be >= 0)',
      'upscaling_resize: 0 is not allowed (must be > 0)',
      'upscaling_resize_w: 0 is not allowed (must be >= 1)',
      'upscaling_resize_h: 10.5 is not allowed (must be an integer)',
      'extras_upscaler_2_visibility: 2 is not allowed (must be <= 1)',
    ]) {
      expect(m).toContain(part);
    }
    expect(messageOf(check(r, { image: 'abc', upscaling_resize: 9 }))).toContain('upscaling_resize: 9 is not allowed (must be <= 8)');
    expect(messageOf(check(r, {}))).toContain('image: is required');
  });

  it('extra-batch-images: imageList of {data, name}', () => {
    const r = route('POST', 'extra-batch-images');
    expect(check(r, { imageList: [{ data: 'abc', name: 'a.png' }], upscaling_resize: 2 })).not.toThrow();
    const m = messageOf(check(r, { imageList: [{ data: 'abc' }, { data: '', name: 'b', extra: 1 }] }));
    expect(m).toContain('imageList[0].name: is required');
    expect(m).toContain('imageList[1].data: "" is not allowed (must not be empty)');
    expect(m).toContain('imageList[1].extra: unknown field');
    expect(messageOf(check(r, { image: 'abc' }))).toContain('imageList: is required');
  });

  it('png-info: image required', () => {
    expect(check(route('POST', 'png-info'), { image: 'abc' })).not.toThrow();
    expect(messageOf(check(route('POST', 'png-info'), { image: 'abc', imag: 1 }))).toContain('imag: unknown field (did you mean "image"?)');
  });

  it('options: allowed settings only, at most 200 keys', () => {
    const r = route('POST', 'options');
    expect(check(r, { sd_model_checkpoint: 'x', CLIP_stop_at_last_layers: 2, samples_format: 'webp' })).not.toThrow();
    expect(messageOf(check(r, { sd_model_checkpoint: 'x', nested: { a: [1] } }))).toContain('nested: not an allowed setting');
    expect(messageOf(check(r, Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`k${i}`, i]))))).toContain(
      'invalid payload for POST /sdapi/v1/options: payload: an object with 201 keys is not allowed (must have at most 200 keys)',
    );
  });

  it('every route with a schema validates a minimal payload', () => {
    const minimal: Record<string, unknown> = {
      txt2img: {},
      img2img: { init_images: ['abc'] },
      interrogate: { image: 'abc' },
      'extra-single-image': { image: 'abc' },
      'extra-batch-images': { imageList: [{ data: 'abc', name: 'a' }] },
      'png-info': { image: 'abc' },
      options: {},
    };
    for (const r of ROUTES.filter((x) => x.schema !== null)) {
      expect(check(r, minimal[r.schema!]), r.path).not.toThrow();
    }
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
    ['invalid txt2img', TXT2IMG, { stepz: 1, width: 3, alwayson_scripts: { x: { args: 1 } } }],
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

describe('schema files', () => {
  const dir = join(REPO_ROOT, 'schemas');
  const names = ['txt2img', 'img2img', 'interrogate', 'extra-single-image', 'extra-batch-images', 'png-info', 'options'];

  it.each(names)('%s.json has a title, a description naming its route, draft-07 and a closed top level', (name) => {
    const schema = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.title).toContain(`/sdapi/v1/${name}`);
    expect(schema.description).toContain(`POST /sdapi/v1/${name}`);
    expect(schema.description).toMatch(/§2\.\d+/);
    expect(schema.type).toBe('object');
    if (name === 'options') expect(schema.maxProperties).toBe(200);
    else expect(schema.additionalProperties).toBe(false);
  });

  it('txt2img and img2img share the base fields; hr_* are txt2img only', () => {
    const t = Object.keys(txt2imgSchema.properties);
    const i = Object.keys(img2imgSchema.properties);
    expect(t.filter((k) => k.startsWith('hr_'))).toHaveLength(10);
    expect(i.filter((k) => k.startsWith('hr_') || k === 'enable_hr' || k.startsWith('firstphase_'))).toEqual([]);
    for (const k of Object.keys(SEED_000_PAYLOAD)) expect(t).toContain(k);
    for (const k of Object.keys(IMG2IMG_ALL_FIELDS)) expect(i).toContain(k);
  });
});
