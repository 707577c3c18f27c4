/**
 * The allow-list of A1111 settings a job may change: the keys of `override_settings` (txt2img, img2img) and
 * of the `POST /sdapi/v1/options` payload (A1111 spec §2.12).
 *
 * A1111 applies both with `opts.set(key, value, is_api=True)`; POST /options also saves them to its
 * `config.json`. Without a list a job could write any of A1111's settings: output directories and file name
 * patterns (`outdir_*`, `samples_filename_pattern`), what is saved to disk (`samples_save`, `save_txt`),
 * start-up and extension state (`disable_all_extensions`, `restore_config_state_file`) or the URL policy
 * (`api_enable_requests`, `api_forbid_local_requests`, `api_useragent` — A1111 marks those `restrict_api`
 * and ignores them silently; the worker refuses them loudly).
 *
 * The list holds the per-image generation settings of A1111 v1.10 — essentially the settings A1111 itself
 * writes into a PNG's infotext and reads back from a pasted one — grouped as:
 * - model: `sd_model_checkpoint`, `sd_vae`, `CLIP_stop_at_last_layers` (CLIP skip), `sdxl_clip_l_skip`,
 *   `sd_vae_encode_method`, `sd_vae_decode_method`;
 * - sampler and scheduler parameters: `eta_ddim`, `eta_ancestral`, `ddim_discretize`, `s_churn`, `s_tmin`,
 *   `s_tmax`, `s_noise`, `s_min_uncond`, `k_sched_type` (A1111 ≤ 1.8; harmless on 1.10), `sigma_min`,
 *   `sigma_max`, `rho`, `always_discard_next_to_last_sigma`, `sgm_noise_multiplier`, `uni_pc_variant`,
 *   `uni_pc_skip_type`, `uni_pc_order`, `uni_pc_lower_order_final`, `sd_noise_schedule`, `skip_early_cond`,
 *   `beta_dist_alpha`, `beta_dist_beta`;
 * - seed: `eta_noise_seed_delta` (ENSD), `randn_source`;
 * - output format: `samples_format` (png, jpg, jpeg, webp), `jpeg_quality` (1–100), `webp_lossless`;
 * - token merging: `token_merging_ratio`, `token_merging_ratio_img2img`, `token_merging_ratio_hr`;
 * - img2img: `img2img_fix_steps`, `initial_noise_multiplier`, `img2img_extra_noise`, `inpainting_mask_weight`.
 *
 * Values must be JSON strings, finite numbers or booleans of the setting's type (never objects, arrays or
 * null). A name A1111 does not know still reaches A1111, which answers with its own error.
 */
import { appendKey } from './format.js';

/** JSON type of a setting's value. `integer` also accepts `2.0`. */
export type SettingType = 'string' | 'number' | 'integer' | 'boolean';

/** One allowed setting. */
export interface AllowedSetting {
  /** The setting's group, for documentation. */
  readonly group: 'model' | 'sampler' | 'seed' | 'output' | 'token merging' | 'img2img';
  readonly type: SettingType;
  /** Allowed values (compared case-insensitively) when the setting takes only a few. */
  readonly values?: readonly string[];
  /** Smallest allowed number. */
  readonly min?: number;
  /** Largest allowed number. */
  readonly max?: number;
}

const s = (group: AllowedSetting['group'], type: SettingType, extra: Omit<AllowedSetting, 'group' | 'type'> = {}): AllowedSetting =>
  Object.freeze({ group, type, ...extra });

/**
 * Every setting a job may change, in the order messages list them. A Map, so a key such as `__proto__` never
 * reaches an object's prototype.
 */
export const ALLOWED_SETTINGS: ReadonlyMap<string, AllowedSetting> = new Map<string, AllowedSetting>([
  ['sd_model_checkpoint', s('model', 'string')],
  ['sd_vae', s('model', 'string')],
  ['CLIP_stop_at_last_layers', s('model', 'integer', { min: 1 })],
  ['sdxl_clip_l_skip', s('model', 'boolean')],
  ['sd_vae_encode_method', s('model', 'string')],
  ['sd_vae_decode_method', s('model', 'string')],
  ['eta_ddim', s('sampler', 'number')],
  ['eta_ancestral', s('sampler', 'number')],
  ['ddim_discretize', s('sampler', 'string')],
  ['s_churn', s('sampler', 'number')],
  ['s_tmin', s('sampler', 'number')],
  ['s_tmax', s('sampler', 'number')],
  ['s_noise', s('sampler', 'number')],
  ['s_min_uncond', s('sampler', 'number')],
  ['k_sched_type', s('sampler', 'string')],
  ['sigma_min', s('sampler', 'number')],
  ['sigma_max', s('sampler', 'number')],
  ['rho', s('sampler', 'number')],
  ['always_discard_next_to_last_sigma', s('sampler', 'boolean')],
  ['sgm_noise_multiplier', s('sampler', 'boolean')],
  ['uni_pc_variant', s('sampler', 'string')],
  ['uni_pc_skip_type', s('sampler', 'string')],
  ['uni_pc_order', s('sampler', 'integer', { min: 1 })],
  ['uni_pc_lower_order_final', s('sampler', 'boolean')],
  ['sd_noise_schedule', s('sampler', 'string')],
  ['skip_early_cond', s('sampler', 'number')],
  ['beta_dist_alpha', s('sampler', 'number')],
  ['beta_dist_beta', s('sampler', 'number')],
  ['eta_noise_seed_delta', s('seed', 'integer')],
  ['randn_source', s('seed', 'string')],
  ['samples_format', s('output', 'string', { values: ['png', 'jpg', 'jpeg', 'webp'] })],
  ['jpeg_quality', s('output', 'integer', { min: 1, max: 100 })],
  ['webp_lossless', s('output', 'boolean')],
  ['token_merging_ratio', s('token merging', 'number')],
  ['token_merging_ratio_img2img', s('token merging', 'number')],
  ['token_merging_ratio_hr', s('token merging', 'number')],
  ['img2img_fix_steps', s('img2img', 'boolean')],
  ['initial_noise_multiplier', s('img2img', 'number')],
  ['img2img_extra_noise', s('img2img', 'number')],
  ['inpainting_mask_weight', s('img2img', 'number')],
]);

/** The allowed keys, comma-separated (the tail of the first refusal). */
export const ALLOWED_SETTINGS_TEXT: string = [...ALLOWED_SETTINGS.keys()].join(', ');

/** One refused setting. */
export interface SettingIssue {
  /** Field path, e.g. `override_settings.outdir_samples` or (options payload) `outdir_samples`. */
  path: string;
  /** The value, shown in the message when `showValue` is true. */
  value: unknown;
  /** False for a refused key (only the reason is shown), true for a refused value. */
  showValue: boolean;
  /** Why, e.g. `not an allowed setting` or `must be an integer`. */
  reason: string;
}

const TYPE_PHRASE: Readonly<Record<SettingType, string>> = {
  string: 'must be a string',
  number: 'must be a number',
  integer: 'must be an integer',
  boolean: 'must be a boolean',
};

function valueReason(spec: AllowedSetting, value: unknown): string | undefined {
  const okType =
    spec.type === 'string'
      ? typeof value === 'string'
      : spec.type === 'boolean'
        ? typeof value === 'boolean'
        : typeof value === 'number' && Number.isFinite(value) && (spec.type === 'number' || Number.isInteger(value));
  if (!okType) return TYPE_PHRASE[spec.type];
  if (spec.values && !spec.values.includes(String(value).toLowerCase())) {
    return `must be one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (typeof value === 'number' && spec.min !== undefined && value < spec.min) return `must be >= ${spec.min}`;
  if (typeof value === 'number' && spec.max !== undefined && value > spec.max) return `must be <= ${spec.max}`;
  return undefined;
}

/** An allowed key differing only in case or by one or two edits, for "did you mean". */
function nearKey(key: string): string | undefined {
  if (key.length > 60) return undefined;
  const lower = key.toLowerCase();
  for (const k of ALLOWED_SETTINGS.keys()) if (k.toLowerCase() === lower) return k;
  for (const k of ALLOWED_SETTINGS.keys()) {
    if (Math.abs(k.length - key.length) > 2) continue;
    // Cheap bounded edit distance (≤ 2).
    const a = lower;
    const b = k.toLowerCase();
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    if (prev[b.length]! <= 2) return k;
  }
  return undefined;
}

/**
 * Checks settings against {@link ALLOWED_SETTINGS} (A1111 spec §2.12): every key must be allowed and every
 * value of the setting's type. Never mutates `settings`; reads own keys only.
 *
 * @param settings the `override_settings` object or the `POST /sdapi/v1/options` payload.
 * @param basePath path of `settings` in the payload (`override_settings`), or `''` for the options payload.
 * @returns one issue per refused key or value, in key order; the first refused key's reason lists every
 *   allowed key (`not an allowed setting (allowed: sd_model_checkpoint, sd_vae, …)`), later ones suggest a
 *   close allowed key when there is one. Empty when everything is allowed.
 */
export function settingsIssues(settings: Readonly<Record<string, unknown>>, basePath: string): SettingIssue[] {
  const issues: SettingIssue[] = [];
  let listed = false;
  for (const key of Object.keys(settings)) {
    const path = appendKey(basePath, key);
    const spec = ALLOWED_SETTINGS.get(key);
    const value = settings[key];
    if (!spec) {
      const near = nearKey(key);
      const hint = near ? `did you mean ${JSON.stringify(near)}? ` : '';
      const reason = listed
        ? `not an allowed setting${near ? ` (${hint.trim()})` : ''}`
        : `not an allowed setting (${hint}allowed: ${ALLOWED_SETTINGS_TEXT})`;
      listed = true;
      issues.push({ path, value, showValue: false, reason });
      continue;
    }
    const why = valueReason(spec, value);
    if (why) issues.push({ path, value, showValue: true, reason: why });
  }
  return issues;
}


/**
 * Selectable scripts (`script_name`, matched as A1111 does: case-insensitive title) a job may not run because
 * their arguments reach what the allow-list keeps out. A1111's built-in "Prompts from file or textbox" reads
 * `--outpath_samples`, `--outpath_grids`, `--do_not_save_samples`, `--steps`, `--width`, `--n_iter`… from
 * each line of its text argument, so it could write images to any directory A1111 can write to and bypass
 * the cost caps.
 */
export const REFUSED_SCRIPT_TITLES: ReadonlySet<string> = new Set(['prompts from file or textbox']);

/**
 * Why a `script_name` is refused, or `undefined` when it may run (see {@link REFUSED_SCRIPT_TITLES}).
 * @param value the payload's `script_name` (any JSON value; only strings are looked at).
 */
export function scriptNameReason(value: unknown): string | undefined {
  if (typeof value !== 'string' || !REFUSED_SCRIPT_TITLES.has(value.trim().toLowerCase())) return undefined;
  return 'its lines can set output paths (--outpath_samples) and any generation field, past the settings allow-list and the caps';
}
