/**
 * The settings allow-list (handler/jobs/settings.ts) for override_settings and POST /sdapi/v1/options.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../handler/config.js';
import { JobInputError } from '../../handler/jobs/errors.js';
import { resolveRoute, type RouteSpec } from '../../handler/jobs/routes.js';
import { ALLOWED_SETTINGS, ALLOWED_SETTINGS_TEXT, REFUSED_SCRIPT_TITLES, settingsIssues } from '../../handler/jobs/settings.js';
import { validatePayload } from '../../handler/jobs/validate.js';

const LIMITS = loadConfig([], {}).limits;
const TXT2IMG = resolveRoute('POST', '/sdapi/v1/txt2img');
const IMG2IMG = resolveRoute('POST', '/sdapi/v1/img2img');
const OPTIONS = resolveRoute('POST', '/sdapi/v1/options');

function messageOf(r: RouteSpec, payload: unknown): string {
  try {
    validatePayload(r, payload, LIMITS);
  } catch (e) {
    expect(e).toBeInstanceOf(JobInputError);
    const m = (e as Error).message;
    expect(m).not.toMatch(/[\n\r]/);
    return m;
  }
  throw new Error('expected a JobInputError');
}

/** A valid value of each allowed setting. */
function sampleValue(key: string): string | number | boolean {
  const spec = ALLOWED_SETTINGS.get(key)!;
  if (spec.values) return spec.values[0]!;
  if (spec.type === 'string') return 'x';
  if (spec.type === 'boolean') return true;
  return spec.min ?? 1;
}

describe('the allow-list', () => {
  it('holds the categories of the issue, with A1111 v1.10 names', () => {
    for (const key of [
      'sd_model_checkpoint',
      'sd_vae',
      'CLIP_stop_at_last_layers',
      'eta_ddim',
      'eta_ancestral',
      's_churn',
      's_noise',
      'sigma_min',
      'rho',
      'k_sched_type',
      'uni_pc_order',
      'always_discard_next_to_last_sigma',
      'sd_noise_schedule',
      'samples_format',
      'jpeg_quality',
      'webp_lossless',
      'eta_noise_seed_delta',
      'randn_source',
      'token_merging_ratio',
      'token_merging_ratio_hr',
      'img2img_fix_steps',
      'initial_noise_multiplier',
      'sd_vae_encode_method',
      'sd_vae_decode_method',
    ]) {
      expect(ALLOWED_SETTINGS.has(key), key).toBe(true);
    }
  });

  it('holds nothing path-, save-, API- or start-up-related', () => {
    for (const key of ALLOWED_SETTINGS.keys()) {
      expect(key).not.toMatch(/^(api_|outdir|save|samples_save|samples_filename|directories|temp_dir|disable_|restore_config|ckpt|grid_save)/);
    }
  });

  it('accepts every allowed setting with a value of its type, in both places', () => {
    const all = Object.fromEntries([...ALLOWED_SETTINGS.keys()].map((k) => [k, sampleValue(k)]));
    expect(settingsIssues(all, 'override_settings')).toEqual([]);
    expect(() => validatePayload(TXT2IMG, { override_settings: all }, LIMITS)).not.toThrow();
    expect(() => validatePayload(IMG2IMG, { init_images: ['a'], override_settings: all }, LIMITS)).not.toThrow();
    expect(() => validatePayload(OPTIONS, all, LIMITS)).not.toThrow();
  });
});

describe('refused keys', () => {
  it.each([
    ['api_forbid_local_requests', false],
    ['api_enable_requests', true],
    ['api_useragent', 'x'],
    ['outdir_samples', '/tmp/x'],
    ['outdir_txt2img_samples', '../../etc'],
    ['samples_filename_pattern', '[seed]'],
    ['samples_save', true],
    ['save_txt', true],
    ['disable_all_extensions', 'all'],
    ['restore_config_state_file', 'x.json'],
    ['sd_checkpoints_limit', 10],
    ['cross_attention_optimization', 'None'],
  ])('override_settings.%s is refused with the allowed keys listed', (key, value) => {
    expect(messageOf(TXT2IMG, { override_settings: { [key]: value } })).toBe(
      `invalid payload for POST /sdapi/v1/txt2img: override_settings.${key}: not an allowed setting (allowed: ${ALLOWED_SETTINGS_TEXT})`,
    );
  });

  it('refuses the same keys in POST /sdapi/v1/options', () => {
    expect(messageOf(OPTIONS, { sd_model_checkpoint: 'x', api_forbid_local_requests: false })).toBe(
      `invalid payload for POST /sdapi/v1/options: api_forbid_local_requests: not an allowed setting (allowed: ${ALLOWED_SETTINGS_TEXT})`,
    );
  });

  it('lists the allowed keys once and suggests close names', () => {
    const m = messageOf(IMG2IMG, { init_images: ['a'], override_settings: { outdir_samples: 'x', sd_modelcheckpoint: 'y', Sd_Vae: 'z' } });
    expect(m.split(ALLOWED_SETTINGS_TEXT)).toHaveLength(2);
    expect(m).toContain('override_settings.outdir_samples: not an allowed setting (allowed: ');
    expect(m).toContain('override_settings.sd_modelcheckpoint: not an allowed setting (did you mean "sd_model_checkpoint"?)');
    expect(m).toContain('override_settings.Sd_Vae: not an allowed setting (did you mean "sd_vae"?)');
  });

  it('refuses prototype keys as unknown settings without touching prototypes', () => {
    const payload = JSON.parse('{"override_settings": {"__proto__": {"polluted": 1}, "constructor": 2, "prototype": 3}}') as unknown;
    const m = messageOf(TXT2IMG, payload);
    expect(m).toContain('override_settings.__proto__: not an allowed setting');
    expect(m).toContain('override_settings.constructor: not an allowed setting');
    expect(m).toContain('override_settings.prototype: not an allowed setting');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('quotes odd keys on one line', () => {
    expect(messageOf(OPTIONS, { 'a\nb': 1 })).toContain('["a\\nb"]: not an allowed setting');
  });
});

describe('refused values', () => {
  it.each([
    [{ sd_model_checkpoint: { title: 'x' } }, 'override_settings.sd_model_checkpoint: {"title":"x"} is not allowed (must be a string)'],
    [{ sd_vae: null }, 'override_settings.sd_vae: null is not allowed (must be a string)'],
    [{ sd_vae: ['a'] }, 'override_settings.sd_vae: ["a"] is not allowed (must be a string)'],
    [{ CLIP_stop_at_last_layers: '2' }, 'override_settings.CLIP_stop_at_last_layers: "2" is not allowed (must be an integer)'],
    [{ CLIP_stop_at_last_layers: 1.5 }, 'override_settings.CLIP_stop_at_last_layers: 1.5 is not allowed (must be an integer)'],
    [{ CLIP_stop_at_last_layers: 0 }, 'override_settings.CLIP_stop_at_last_layers: 0 is not allowed (must be >= 1)'],
    [{ eta_ddim: true }, 'override_settings.eta_ddim: true is not allowed (must be a number)'],
    [{ webp_lossless: 'yes' }, 'override_settings.webp_lossless: "yes" is not allowed (must be a boolean)'],
    [{ samples_format: 'gif' }, 'override_settings.samples_format: "gif" is not allowed (must be one of "png", "jpg", "jpeg", "webp")'],
    [{ jpeg_quality: 101 }, 'override_settings.jpeg_quality: 101 is not allowed (must be <= 100)'],
  ])('%j', (overrides, expected) => {
    expect(messageOf(TXT2IMG, { override_settings: overrides })).toBe(`invalid payload for POST /sdapi/v1/txt2img: ${expected}`);
  });

  it('accepts integers written as 2.0 and samples_format in any case (A1111 lower-cases it)', () => {
    expect(() => validatePayload(TXT2IMG, { override_settings: { CLIP_stop_at_last_layers: 2.0, samples_format: 'PNG' } }, LIMITS)).not.toThrow();
  });
});

describe('scripts that get around the allow-list', () => {
  it('refuses "Prompts from file or textbox" in any case (A1111 matches titles case-insensitively)', () => {
    for (const title of ['Prompts from file or textbox', 'prompts from file or textbox', ' PROMPTS FROM FILE OR TEXTBOX ']) {
      const m = messageOf(TXT2IMG, { script_name: title, script_args: [false, false, 'start', '--outpath_samples "/etc" --prompt "x"'] });
      expect(m).toContain(`script_name: ${JSON.stringify(title)} is not allowed (its lines can set output paths (--outpath_samples)`);
    }
    expect(messageOf(IMG2IMG, { init_images: ['a'], script_name: 'Prompts from file or textbox' })).toContain('script_name:');
    expect([...REFUSED_SCRIPT_TITLES]).toEqual(['prompts from file or textbox']);
  });

  it('lets other scripts through', () => {
    expect(() => validatePayload(TXT2IMG, { script_name: 'X/Y/Z plot', script_args: [] }, LIMITS)).not.toThrow();
    expect(() => validatePayload(TXT2IMG, { script_name: null }, LIMITS)).not.toThrow();
  });
});
