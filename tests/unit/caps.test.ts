/**
 * The configurable cost caps of validatePayload (issue 4 "Size and cost caps"): every message names the
 * field, the value, the limit and its env var, and the env var moves the limit.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type LimitsConfig } from '../../handler/config.js';
import { JobInputError } from '../../handler/errors/index.js';
import { resolveRoute, type RouteSpec } from '../../handler/jobs/input/routes.js';
import { validatePayload } from '../../handler/jobs/input/validate.js';

const LIMITS: LimitsConfig = loadConfig([], {}).limits;
const TXT2IMG = resolveRoute('POST', '/sdapi/v1/txt2img');
const IMG2IMG = resolveRoute('POST', '/sdapi/v1/img2img');
const route = (name: string): RouteSpec => resolveRoute('POST', `/sdapi/v1/${name}`);

/** Limits as config.ts reads them from these env vars. */
const limitsFrom = (env: Record<string, string>): LimitsConfig => loadConfig([], env).limits;

function messageOf(r: RouteSpec, payload: unknown, limits: LimitsConfig = LIMITS): string {
  try {
    validatePayload(r, payload, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(JobInputError);
    const m = (e as Error).message;
    expect(m).not.toMatch(/[\n\r]/);
    return m;
  }
  throw new Error('expected a JobInputError');
}

const ok = (r: RouteSpec, payload: unknown, limits: LimitsConfig = LIMITS) => () => validatePayload(r, payload, limits);

describe('defaults', () => {
  it('are those of the README', () => {
    expect(LIMITS).toEqual({
      maxImagesPerJob: 16,
      maxInputBytes: 20 * 1024 * 1024,
      maxPixelsPerJob: 16 * 1024 * 1024,
      maxSteps: 150,
      maxHrSteps: 150,
      maxInputImages: 16,
      maxInputImageBytes: 16 * 1024 * 1024,
      maxImageSide: 8192,
      allowImageUrls: false,
      unknownFields: 'refuse',
    });
  });
});

describe('steps (MAX_STEPS)', () => {
  it('names the field, the value, the limit and the env var', () => {
    expect(messageOf(TXT2IMG, { steps: 400 })).toBe('invalid payload for POST /sdapi/v1/txt2img: steps: 400 is over MAX_STEPS=150');
    expect(messageOf(IMG2IMG, { init_images: ['a'], steps: 151 })).toContain('steps: 151 is over MAX_STEPS=150');
  });

  it('follows MAX_STEPS, up to the schema bound of 10000', () => {
    const raised = limitsFrom({ MAX_STEPS: '500' });
    expect(ok(TXT2IMG, { steps: 400 }, raised)).not.toThrow();
    expect(messageOf(TXT2IMG, { steps: 501 }, raised)).toContain('steps: 501 is over MAX_STEPS=500');
    const lowered = limitsFrom({ MAX_STEPS: '20' });
    expect(messageOf(TXT2IMG, { steps: 21 }, lowered)).toContain('steps: 21 is over MAX_STEPS=20');
    expect(ok(TXT2IMG, { steps: 10000 }, limitsFrom({ MAX_STEPS: '10000' }))).not.toThrow();
  });

  it('counts the value as A1111 reads it, and invents no lower bound', () => {
    expect(messageOf(TXT2IMG, { steps: '400' })).toContain('steps: 400 is over MAX_STEPS=150');
    expect(messageOf(TXT2IMG, { steps: 400.9 })).toContain('steps: 400 is over MAX_STEPS=150');
    expect(ok(TXT2IMG, { steps: 0 })).not.toThrow();
  });
});

describe('hr_second_pass_steps (MAX_HR_STEPS)', () => {
  it('names the field, the value, the limit and the env var', () => {
    expect(messageOf(TXT2IMG, { enable_hr: true, denoising_strength: 0.5, hr_second_pass_steps: 200 })).toBe(
      'invalid payload for POST /sdapi/v1/txt2img: hr_second_pass_steps: 200 is over MAX_HR_STEPS=150',
    );
  });

  it('follows MAX_HR_STEPS', () => {
    expect(ok(TXT2IMG, { hr_second_pass_steps: 200 }, limitsFrom({ MAX_HR_STEPS: '300' }))).not.toThrow();
    expect(messageOf(TXT2IMG, { hr_second_pass_steps: 11 }, limitsFrom({ MAX_HR_STEPS: '10' }))).toContain(
      'hr_second_pass_steps: 11 is over MAX_HR_STEPS=10',
    );
  });
});

describe('pixels per job (MAX_PIXELS_PER_JOB)', () => {
  const MPX16 = 16 * 1024 * 1024;

  it('counts width × height × batch_size × n_iter', () => {
    expect(ok(TXT2IMG, { width: 1024, height: 1024, batch_size: 4, n_iter: 4 })).not.toThrow(); // exactly 16 Mpx
    expect(messageOf(TXT2IMG, { width: 1024, height: 1032, batch_size: 4, n_iter: 4 })).toBe(
      `invalid payload for POST /sdapi/v1/txt2img: width × height × batch_size × n_iter: 1024 × 1032 × 4 × 4 = 16908288 px is over MAX_PIXELS_PER_JOB=${MPX16}`,
    );
  });

  it("uses A1111's defaults (512 × 512, 1, 1) for absent or null fields", () => {
    const small = { ...LIMITS, maxPixelsPerJob: 512 * 512 - 1 };
    expect(messageOf(TXT2IMG, {}, small)).toContain('512 × 512 × 1 × 1 = 262144 px is over MAX_PIXELS_PER_JOB=262143');
    expect(messageOf(TXT2IMG, { width: null, height: 1024 }, small)).toContain('512 × 1024 × 1 × 1 = 524288 px');
  });

  it('includes the hires fix: hr_scale² (A1111 default 2)', () => {
    expect(ok(TXT2IMG, { width: 1024, height: 1024, batch_size: 4, enable_hr: true, denoising_strength: 0.5 })).not.toThrow(); // exactly 16 Mpx
    expect(messageOf(TXT2IMG, { width: 1024, height: 1024, batch_size: 8, enable_hr: true, denoising_strength: 0.5 })).toBe(
      'invalid payload for POST /sdapi/v1/txt2img: width × height × batch_size × n_iter (hires fix): 2048 × 2048 (hires fix of 1024 × 1024 at hr_scale 2) × 8 × 1 = 33554432 px is over MAX_PIXELS_PER_JOB=16777216',
    );
    expect(ok(TXT2IMG, { width: 1024, height: 1024, batch_size: 4, enable_hr: false })).not.toThrow();
    expect(ok(TXT2IMG, { width: 1024, height: 1024, batch_size: 4, enable_hr: true, denoising_strength: 0.5, hr_scale: 1 })).not.toThrow();
    expect(messageOf(TXT2IMG, { width: 1024, height: 1024, batch_size: 8, enable_hr: true, denoising_strength: 0.5, hr_scale: 1.5 })).toContain(
      '1536 × 1536 (hires fix of 1024 × 1024 at hr_scale 1.5) × 8 × 1 = 18874368 px is over',
    );
    expect(messageOf(TXT2IMG, { width: 512, height: 512, enable_hr: true, denoising_strength: 0.5, hr_scale: 1e300 })).toContain('px is over MAX_PIXELS_PER_JOB');
  });

  it('includes the hires fix: hr_resize_x × hr_resize_y when set', () => {
    expect(messageOf(TXT2IMG, { width: 512, height: 512, enable_hr: true, denoising_strength: 0.5, hr_resize_x: 4096, hr_resize_y: 4104 })).toContain(
      '4104 × 4104 (hires fix of 512 × 512 at hr_resize_x × hr_resize_y 4096 × 4104) × 1 × 1',
    );
    expect(ok(TXT2IMG, { width: 512, height: 512, enable_hr: true, denoising_strength: 0.5, hr_resize_x: 4096, hr_resize_y: 4096 })).not.toThrow();
    // One side set: the other follows the aspect ratio.
    expect(messageOf(TXT2IMG, { width: 512, height: 1024, enable_hr: true, denoising_strength: 0.5, hr_resize_x: 3000 })).toContain(
      '3000 × 6000 (hires fix of 512 × 1024 at hr_resize_x 3000)',
    );
    expect(messageOf(TXT2IMG, { width: 1024, height: 512, enable_hr: true, denoising_strength: 0.5, hr_resize_y: 3000 })).toContain(
      '6000 × 3000 (hires fix of 1024 × 512 at hr_resize_y 3000)',
    );
  });

  it('follows MAX_PIXELS_PER_JOB and applies to img2img (no hires there)', () => {
    const big = limitsFrom({ MAX_PIXELS_PER_JOB: String(64 * 1024 * 1024) });
    expect(ok(TXT2IMG, { width: 2048, height: 2048, batch_size: 16 }, big)).not.toThrow();
    expect(messageOf(IMG2IMG, { init_images: ['a'], width: 2048, height: 2048, batch_size: 8 })).toContain(
      'width × height × batch_size × n_iter: 2048 × 2048 × 8 × 1 = 33554432 px is over MAX_PIXELS_PER_JOB=16777216',
    );
  });

  it('is not counted from invalid fields (the schema message says what is wrong)', () => {
    const m = messageOf(TXT2IMG, { width: 'huge', batch_size: 16 });
    expect(m).toContain('width: "huge" is not allowed');
    expect(m).not.toContain('MAX_PIXELS_PER_JOB');
  });
});

describe('input images (MAX_INPUT_IMAGES)', () => {
  it('counts every image field', () => {
    expect(ok(IMG2IMG, { init_images: Array(16).fill('a'), batch_size: 16 })).not.toThrow();
    expect(messageOf(IMG2IMG, { init_images: Array(16).fill('a'), batch_size: 16, mask: 'm' })).toContain(
      'input images: 17 (init_images 16, mask 1) is over MAX_INPUT_IMAGES=16',
    );
    expect(messageOf(route('extra-batch-images'), { imageList: Array.from({ length: 17 }, (_, i) => ({ data: 'a', name: `${i}` })) })).toBe(
      'invalid payload for POST /sdapi/v1/extra-batch-images: imageList: 17 images is over MAX_INPUT_IMAGES=16',
    );
  });

  it('follows MAX_INPUT_IMAGES', () => {
    const two = limitsFrom({ MAX_INPUT_IMAGES: '2' });
    expect(messageOf(IMG2IMG, { init_images: ['a', 'b'], mask: 'm', batch_size: 2 }, two)).toContain(
      'input images: 3 (init_images 2, mask 1) is over MAX_INPUT_IMAGES=2',
    );
    const none = limitsFrom({ MAX_INPUT_IMAGES: '0' });
    expect(messageOf(route('interrogate'), { image: 'a' }, none)).toContain('image: 1 image is over MAX_INPUT_IMAGES=0');
    expect(ok(route('extra-batch-images'), { imageList: Array.from({ length: 40 }, (_, i) => ({ data: 'a', name: `${i}` })) }, limitsFrom({ MAX_INPUT_IMAGES: '40' }))).not.toThrow();
  });

  it('does not count an empty mask (none for A1111)', () => {
    expect(ok(IMG2IMG, { init_images: Array(16).fill('a'), batch_size: 16, mask: '' })).not.toThrow();
  });
});

describe('images per job (MAX_IMAGES_PER_JOB) stays as it was', () => {
  it('names the env var', () => {
    expect(messageOf(TXT2IMG, { batch_size: 5, n_iter: 4, width: 64, height: 64 })).toContain(
      'batch_size × n_iter: 5 × 4 = 20 images is over the limit of 16 per job (MAX_IMAGES_PER_JOB)',
    );
  });
});

describe('all caps at once', () => {
  it('are listed in one line', () => {
    const m = messageOf(TXT2IMG, { steps: 1000, hr_second_pass_steps: 1000, enable_hr: true, denoising_strength: 0.5, width: 2048, height: 2048, batch_size: 8 });
    for (const part of ['steps: 1000 is over MAX_STEPS=150', 'hr_second_pass_steps: 1000 is over MAX_HR_STEPS=150', 'is over MAX_PIXELS_PER_JOB=16777216']) {
      expect(m).toContain(part);
    }
  });
});
