/**
 * The settings deny-list and checkSettings (handler/jobs/input/settings.ts) for override_settings and POST
 * /sdapi/v1/options, against the bundled simulator's `GET /sdapi/v1/options` (A1111 v1.10.1 option names).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Lists } from '../../handler/a1111/lists.js';
import { JobInputError } from '../../handler/errors/index.js';
import { resolveRoute, type RouteSpec } from '../../handler/jobs/input/routes.js';
import {
  DENIED_OPTIONS,
  DENIED_OPTION_RULES,
  REFUSED_SCRIPT_TITLES,
  checkSettings,
  deniedOptionReason,
  scriptNameReason,
  settingsIssues,
} from '../../handler/jobs/input/settings.js';
import { silentLog } from '../../handler/log.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { a1111Config } from '../helpers/fixtures.js';
import { rejectionMessage } from '../helpers/one-line-error.js';

const TXT2IMG = resolveRoute('POST', '/sdapi/v1/txt2img');
const IMG2IMG = resolveRoute('POST', '/sdapi/v1/img2img');
const OPTIONS = resolveRoute('POST', '/sdapi/v1/options');

/** The options of A1111 v1.10.1 the deny-list refuses (of the simulator's `GET /sdapi/v1/options`). */
const DENIED_V110 = [
  'samples_filename_pattern',
  'grid_zip_filename_pattern',
  'font',
  'temp_dir',
  'clean_temp_dir_at_start',
  'outdir_samples',
  'outdir_txt2img_samples',
  'outdir_img2img_samples',
  'outdir_extras_samples',
  'outdir_grids',
  'outdir_txt2img_grids',
  'outdir_img2img_grids',
  'outdir_save',
  'outdir_init_images',
  'directories_filename_pattern',
  'api_enable_requests',
  'api_forbid_local_requests',
  'api_useragent',
  'disabled_extensions',
  'disable_all_extensions',
  'restore_config_state_file',
];

describe('the deny-list', () => {
  it('refuses the restrict_api options, paths, file name patterns and start-up state, each with a reason', () => {
    for (const key of DENIED_V110) expect(deniedOptionReason(key), key).toMatch(/\w/);
    expect(DENIED_OPTIONS.get('api_enable_requests')).toMatch(/restrict_api/);
    expect(deniedOptionReason('outdir_hires_samples')).toMatch(/directory A1111 writes images to/);
    expect(deniedOptionReason('control_net_models_path')).toMatch(/path/);
    expect(deniedOptionReason('ad_extra_models_dir')).toMatch(/directory/);
    expect(deniedOptionReason('custom_autolaunch_command')).toMatch(/program/);
    expect(DENIED_OPTION_RULES.map((r) => r.pattern)).toEqual(['outdir_*', '*_filename_pattern', '*_dir', '*_path', '*_file', '*command*']);
  });

  it('does not refuse generation, saving-switch, Forge or extension options', () => {
    for (const key of [
      'sd_model_checkpoint',
      'sd_vae',
      'CLIP_stop_at_last_layers',
      'samples_format',
      'jpeg_quality',
      'samples_save',
      'save_txt',
      'save_to_dirs',
      'grid_save_to_dirs',
      'sd_checkpoints_limit',
      'forge_additional_modules',
      'forge_preset',
      'forge_inference_memory',
      'control_net_unit_count',
      'ad_max_models',
      'k_sched_type',
    ]) {
      expect(deniedOptionReason(key), key).toBeUndefined();
    }
  });

  it('settingsIssues: the deny-list alone, in key order, with paths', () => {
    expect(settingsIssues({ sd_vae: 'x', outdir_samples: '/tmp', api_useragent: 'x' }, 'override_settings').map((i) => i.path)).toEqual([
      'override_settings.outdir_samples',
      'override_settings.api_useragent',
    ]);
    expect(settingsIssues({ temp_dir: '/tmp' }, '')[0]).toEqual({ path: 'temp_dir', value: '/tmp', showValue: true, reason: 'is not allowed: names a directory on the server (temporary images)' });
  });

  it('keeps the script that can set output paths refused', () => {
    expect([...REFUSED_SCRIPT_TITLES]).toEqual(['prompts from file or textbox']);
    expect(scriptNameReason(' Prompts From File Or Textbox ')).toMatch(/--outpath_samples/);
    expect(scriptNameReason('X/Y/Z plot')).toBeUndefined();
    expect(scriptNameReason(3)).toBeUndefined();
  });
});

describe('checkSettings against the simulator', () => {
  let sim: Simulator;
  let lists: A1111Lists;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 0 });
    lists = new A1111Lists(new A1111Client(a1111Config({ url: sim.url, requestTimeoutMs: 10_000 }), silentLog), silentLog);
  });
  afterAll(async () => {
    await sim.close();
  });

  const refusal = (route: RouteSpec, payload: Record<string, unknown>, l = lists): Promise<string> =>
    rejectionMessage(checkSettings(route, payload, l, {}), JobInputError, JSON.stringify(payload));

  it('accepts every option the server lists, with any JSON value, and leaves the payload as it is', async () => {
    const payload = {
      prompt: 'p',
      override_settings: {
        samples_format: 'avif',
        jpeg_quality: 1000,
        CLIP_stop_at_last_layers: '2',
        sd_noise_schedule: 'Zero Terminal SNR',
        hide_samplers: ['DDIM'],
        img2img_extra_noise: null,
        eta_noise_seed_delta: { odd: true },
        samples_save: true,
      },
    };
    const before = structuredClone(payload);
    await expect(checkSettings(TXT2IMG, payload, lists, {})).resolves.toBeUndefined();
    expect(payload).toEqual(before);
    await expect(checkSettings(OPTIONS, { sd_checkpoints_limit: 2, save_txt: true }, lists, {})).resolves.toBeUndefined();
    await expect(checkSettings(IMG2IMG, { init_images: [], override_settings: 'not an object' }, lists, {})).resolves.toBeUndefined();
  });

  it('refuses a denied option with its value and reason, and an unknown one with a suggestion, in key order', async () => {
    expect(await refusal(TXT2IMG, { override_settings: { outdir_samples: '/etc', samples_fromat: 'jpg', api_forbid_local_requests: false } })).toBe(
      'invalid payload for POST /sdapi/v1/txt2img: ' +
        'override_settings.outdir_samples: "/etc" is not allowed: names a directory A1111 writes images to; output paths are the operator’s; ' +
        'override_settings.samples_fromat: not an option of this A1111 (did you mean "samples_format"?): A1111 would fail with KeyError (HTTP 500); ' +
        "override_settings.api_forbid_local_requests: false is not allowed: A1111 marks it restrict_api: the guard against image URLs on local addresses is the operator's policy",
    );
    expect(await refusal(OPTIONS, { samples_filename_pattern: '../../x', temp_dir: '/tmp' })).toMatch(
      /^invalid payload for POST \/sdapi\/v1\/options: samples_filename_pattern: "\.\.\/\.\.\/x" is not allowed: A1111 joins it to the output directory, so it can write files elsewhere; temp_dir: "\/tmp" is not allowed: /,
    );
  });

  it('refuses k_sched_type (not an option of A1111 1.10) and keys no suggestion is near', async () => {
    expect(await refusal(TXT2IMG, { override_settings: { k_sched_type: 'karras' } })).toMatch(/^invalid payload for POST \/sdapi\/v1\/txt2img: override_settings\.k_sched_type: not an option of this A1111/);
    expect(await refusal(OPTIONS, { zzzzzzzz_qqqq: 1 })).toBe(
      'invalid payload for POST /sdapi/v1/options: zzzzzzzz_qqqq: not an option of this A1111: A1111 would fail with KeyError (HTTP 500)',
    );
  });

  it('refuses "Prompts from file or textbox" as script_name', async () => {
    expect(await refusal(IMG2IMG, { init_images: [], script_name: 'prompts from file or textbox' })).toMatch(
      /^invalid payload for POST \/sdapi\/v1\/img2img: script_name: "prompts from file or textbox" is not allowed: its lines can set output paths/,
    );
  });

  it('falls back to the deny-list alone when the options list is unavailable, and does not look at other routes', async () => {
    const s = await startSimulator({ port: 0, stepMs: 0 });
    try {
      s.injectFault({ kind: 'status', status: 404, count: 1, route: 'options', body: { detail: 'Not Found' } });
      const l = new A1111Lists(new A1111Client(a1111Config({ url: s.url, requestTimeoutMs: 10_000 }), silentLog), silentLog);
      await expect(checkSettings(TXT2IMG, { override_settings: { anything_goes: 1 } }, l, {})).resolves.toBeUndefined();
      expect(await refusal(TXT2IMG, { override_settings: { anything_goes: 1, outdir_grids: 'x' } }, l)).toMatch(/^invalid payload for POST \/sdapi\/v1\/txt2img: override_settings\.outdir_grids: "x" is not allowed/);
      await expect(checkSettings(resolveRoute('POST', '/sdapi/v1/png-info'), { outdir_samples: 'x' }, l, {})).resolves.toBeUndefined();
      // Only denied keys: the list is not even fetched.
      expect(s.requests.filter((r) => r.path === '/sdapi/v1/options')).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('fetches the options list once and caches it', async () => {
    const s = await startSimulator({ port: 0, stepMs: 0 });
    try {
      const l = new A1111Lists(new A1111Client(a1111Config({ url: s.url, requestTimeoutMs: 10_000 }), silentLog), silentLog);
      await Promise.all([1, 2, 3].map(() => checkSettings(TXT2IMG, { override_settings: { samples_format: 'png' } }, l, {})));
      await checkSettings(OPTIONS, { jpeg_quality: 90 }, l, {});
      expect(s.requests.filter((r) => r.method === 'GET' && r.path === '/sdapi/v1/options')).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});
