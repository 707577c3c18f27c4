/**
 * The settings a job may change: the keys of `override_settings` (txt2img, img2img) and of the
 * `POST /sdapi/v1/options` payload. Rule (issue 11): deny what is dangerous on a shared
 * serverless worker, allow the rest.
 *
 * How A1111 v1.10.1 applies them (`modules/processing.py` `process_images`, `modules/api/api.py` `set_config`,
 * `modules/options.py` `Options.set`): every key goes through `opts.set(key, value, is_api=True)`, which looks the key
 * up in `data_labels` — an option A1111 does not have raises `KeyError` (HTTP 500; only a `null` value is a silent
 * no-op) — and silently skips options marked `restrict_api`; POST /options then saves everything to `config.json`
 * (persisted for every later job), override_settings are restored after the job. A1111 checks no value types.
 *
 * So the worker:
 * - refuses every key of {@link DENIED_OPTIONS} and {@link DENIED_OPTION_RULES} (below, with the reason of each);
 * - refuses a key that the server's `GET /sdapi/v1/options` does not list ("certainly wrong": A1111 would answer
 *   500 KeyError), with a "did you mean" among the keys it lists — so an extension's or Forge's options
 *   (`forge_additional_modules`, `forge_preset`, `control_net_*`, `ad_*`) pass exactly when the server has them;
 *   when that list is unavailable (404, error), only the deny-list applies;
 * - passes every other key with any JSON value, unchanged (A1111 takes any value; a wrong one fails in A1111).
 *
 * Removed (the former 40-key allow-list): the allow-list itself, the per-key type/range checks (`samples_format` in
 * png/jpg/jpeg/webp, `jpeg_quality` 1–100, integer/number/boolean types) and the special case `k_sched_type` (not an
 * option in v1.10.1; now refused as unknown by servers that do not list it). Kept: the refusal of the URL-policy
 * options (now from A1111's own `restrict_api` marks) and of the script "Prompts from file or textbox".
 *
 * Not denied, on purpose: the switches that make A1111 save files into its own output folders (`samples_save`,
 * `grid_save`, `save_txt`, `save_init_img`, `save_images_before_*`, `save_mask*`, `save_incomplete_images`): they
 * write under the operator's output directories only, which a caller can already do with `save_images: true`; model
 * cache sizes (`sd_checkpoints_limit`, …), console output and UI options: they stay on the endpoint's own worker.
 */
import { isDeepStrictEqual } from 'node:util';
import type { A1111Lists } from '../../a1111/lists.js';
import { JobInputError } from '../../errors/index.js';
import { appendKey, isObject, showValue } from '../format.js';
import { closestName } from './name-suggest.js';
import type { RouteSpec } from './routes.js';

/**
 * Options denied by name, with the reason (A1111 v1.10.1 `modules/shared_options.py` unless noted):
 * - `api_enable_requests`, `api_forbid_local_requests`, `api_useragent`: A1111 marks them `restrict_api=True` (the
 *   only three in v1.10.1) and ignores them silently over the API; they are the operator's policy for the http(s)
 *   image URLs A1111 fetches (SSRF guard).
 * - `temp_dir` ("Directory for temporary images"), `font` (font file for grid text): name a path on the server.
 * - `clean_temp_dir_at_start`: deletes the files of the temporary directory when A1111 next starts.
 * - `disabled_extensions`, `disable_all_extensions`: change which extensions load at the next start.
 * - `restore_config_state_file`: restores a saved extensions/config state (`config-states/`) at the next start.
 */
export const DENIED_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['api_enable_requests', "A1111 marks it restrict_api: whether A1111 fetches http(s) image URLs is the operator's policy"],
  ['api_forbid_local_requests', "A1111 marks it restrict_api: the guard against image URLs on local addresses is the operator's policy"],
  ['api_useragent', "A1111 marks it restrict_api: the user agent of A1111's image URL requests is the operator's"],
  ['temp_dir', 'names a directory on the server (temporary images)'],
  ['font', 'names a font file on the server'],
  ['clean_temp_dir_at_start', 'deletes the temporary directory’s files when A1111 next starts'],
  ['disabled_extensions', 'changes which extensions load at the next start'],
  ['disable_all_extensions', 'changes which extensions load at the next start'],
  ['restore_config_state_file', 'restores a saved configuration and extension state at the next start'],
]);

/** A deny rule over option names: every key it matches is refused. */
export interface DenyRule {
  /** What the rule matches, for documentation (`outdir_*`). */
  readonly pattern: string;
  readonly matches: (key: string) => boolean;
  readonly reason: string;
}

/**
 * Deny rules by name, for A1111's options and those extensions add (A1111 v1.10.1 `shared_options.py`; ControlNet
 * `control_net_models_path`, `control_net_detectedmap_dir`; ADetailer `ad_extra_models_dir`):
 * - `outdir_*`: the output directories (`outdir_samples`, `outdir_txt2img_samples`, `outdir_img2img_samples`,
 *   `outdir_extras_samples`, `outdir_grids`, `outdir_txt2img_grids`, `outdir_img2img_grids`, `outdir_save`,
 *   `outdir_init_images`) — a job could make A1111 write files into any directory it can write to;
 * - `*_filename_pattern` (`samples_filename_pattern`, `directories_filename_pattern`, `grid_zip_filename_pattern`):
 *   A1111 joins the pattern's text to the output directory (`images.save_image`), so `../` in it leaves it;
 * - `*_dir`, `*_path`, `*_file`: extensions' directories and files (models, detected maps, config states);
 * - names containing `command`: a program to run (e.g. the custom-autolaunch extension's `custom_autolaunch_command`).
 * No option of v1.10.1 matches a rule without naming a path (`save_to_dirs`, `grid_save_to_dirs` end in `_dirs` and
 * are on/off switches; they pass); Forge's `forge_additional_modules` (module files chosen by name in its UI)
 * matches none and passes when the Forge server lists it.
 */
export const DENIED_OPTION_RULES: readonly DenyRule[] = Object.freeze([
  { pattern: 'outdir_*', matches: (k: string) => k.startsWith('outdir_'), reason: 'names a directory A1111 writes images to; output paths are the operator’s' },
  { pattern: '*_filename_pattern', matches: (k: string) => k.endsWith('_filename_pattern'), reason: 'A1111 joins it to the output directory, so it can write files elsewhere' },
  { pattern: '*_dir', matches: (k: string) => k.endsWith('_dir'), reason: 'names a directory on the server' },
  { pattern: '*_path', matches: (k: string) => k.endsWith('_path'), reason: 'names a path on the server' },
  { pattern: '*_file', matches: (k: string) => k.endsWith('_file'), reason: 'names a file on the server' },
  { pattern: '*command*', matches: (k: string) => k.toLowerCase().includes('command'), reason: 'names a program for the server to run' },
]);

/**
 * Why an option is denied ({@link DENIED_OPTIONS}, then {@link DENIED_OPTION_RULES}), or undefined when it is not.
 * Case-sensitive, as A1111's option names are.
 */
export function deniedOptionReason(key: string): string | undefined {
  return DENIED_OPTIONS.get(key) ?? DENIED_OPTION_RULES.find((r) => r.matches(key))?.reason;
}

/** One refused setting. */
export interface SettingIssue {
  /** Field path, e.g. `override_settings.outdir_samples` or (options payload) `outdir_samples`. */
  path: string;
  /** The value, shown in the message when `showValue` is true. */
  value: unknown;
  /** False when only the reason is shown, true when the value is shown too. */
  showValue: boolean;
  /** Why, e.g. `names a directory A1111 writes images to; …`. */
  reason: string;
}

/**
 * The deny-list check alone (no server list): one issue per denied key of `settings`, in key order. Never mutates
 * `settings`; reads own keys only. Used by {@link checkSettings}, and on its own where no list can be fetched.
 * @param settings the `override_settings` object or the `POST /sdapi/v1/options` payload.
 * @param basePath path of `settings` in the payload (`override_settings`), or `''` for the options payload.
 */
export function settingsIssues(settings: Readonly<Record<string, unknown>>, basePath: string): SettingIssue[] {
  const issues: SettingIssue[] = [];
  for (const key of Object.keys(settings)) {
    const reason = deniedOptionReason(key);
    if (reason) issues.push({ path: appendKey(basePath, key), value: settings[key], showValue: true, reason: `is not allowed: ${reason}` });
  }
  return issues;
}

/**
 * Selectable scripts (`script_name`, matched as A1111 does: case-insensitive title) a job may not run. A1111's
 * built-in "Prompts from file or textbox" (`scripts/prompts_from_file.py`) reads `--outpath_samples`,
 * `--outpath_grids`, `--do_not_save_samples`, `--steps`, `--width`, `--n_iter`… from each line of its text
 * argument, so it could write images to any directory A1111 can write to and bypass the cost caps.
 */
export const REFUSED_SCRIPT_TITLES: ReadonlySet<string> = new Set(['prompts from file or textbox']);

/**
 * Why a `script_name` is refused, or `undefined` when it may run (see {@link REFUSED_SCRIPT_TITLES}).
 * @param value the payload's `script_name` (any JSON value; only strings are looked at).
 */
export function scriptNameReason(value: unknown): string | undefined {
  if (typeof value !== 'string' || !REFUSED_SCRIPT_TITLES.has(value.trim().toLowerCase())) return undefined;
  return 'its lines can set output paths (--outpath_samples) and any generation field, past the settings deny-list and the caps';
}

/** The settings object of a payload and its path: the options payload itself, or `override_settings`. */
function settingsOf(route: RouteSpec, payload: Record<string, unknown>): { settings: Record<string, unknown>; base: string } | undefined {
  if (route.schema === 'options') return { settings: payload, base: '' };
  if (!route.generates) return undefined;
  const ov = Object.hasOwn(payload, 'override_settings') ? payload.override_settings : undefined;
  return isObject(ov) ? { settings: ov, base: 'override_settings' } : undefined;
}

/**
 * The options the server lists (key → current value), after one refresh when `keys` has one it does not; undefined
 * when unavailable.
 */
async function serverOptions(keys: readonly string[], lists: A1111Lists, signal: AbortSignal | undefined): Promise<ReadonlyMap<string, unknown> | undefined> {
  let snap = await lists.get('options', signal);
  if (!snap.available) return undefined;
  if (keys.some((k) => !snap.names.has(k)) && (await lists.refresh('options', signal))) snap = await lists.get('options', signal);
  return snap.available ? new Map(snap.entries.map((o) => [o.key, o.value])) : undefined;
}

/**
 * Checks the settings of a payload (see the module comment for the rules and their sources):
 * - `POST /sdapi/v1/options`: every key of the payload;
 * - txt2img/img2img: every key of `override_settings` (when it is an object), and `script_name` against
 *   {@link REFUSED_SCRIPT_TITLES}.
 * Denied keys ({@link deniedOptionReason}) are refused whatever the server, unless the value is the one the server
 * already has: a client that posts the whole `GET /sdapi/v1/options` object back with one setting changed (Open
 * WebUI's model switch) changes nothing dangerous, and no job can change a denied option to make that value
 * stale. Keys the server's `GET /sdapi/v1/options`
 * does not list are refused with a "did you mean" (fetched through `lists`, cached; refreshed once on a miss); when
 * that list is unavailable only the deny-list applies. Values are never checked; the payload is never changed.
 *
 * @param route the resolved route; other routes' payloads are not looked at
 * @param payload the payload (a JSON object; anything else is left to the schema check)
 * @throws JobInputError `invalid payload for POST /sdapi/v1/txt2img: override_settings.outdir_samples: "/tmp" is not
 *   allowed: names a directory A1111 writes images to; …; override_settings.samples_fromat: not an option of this
 *   A1111 (did you mean "samples_format"?): A1111 would fail with KeyError (HTTP 500)` — one line, issues joined
 *   with `; `
 * @throws A1111Error `unreachable` when A1111 cannot be reached for its options list, `aborted` when `opts.signal`
 *   aborts
 */
export async function checkSettings(route: RouteSpec, payload: Record<string, unknown>, lists: A1111Lists, opts: { signal?: AbortSignal }): Promise<void> {
  if (!isObject(payload)) return;
  const issues: string[] = [];
  if (route.generates) {
    const script = Object.hasOwn(payload, 'script_name') ? payload.script_name : undefined;
    const why = scriptNameReason(script);
    if (why) issues.push(`script_name: ${showValue(script)} is not allowed: ${why}`);
  }
  const found = settingsOf(route, payload);
  if (found) {
    const { settings, base } = found;
    const keys = Object.keys(settings);
    const known = keys.length ? await serverOptions(keys, lists, opts.signal) : undefined;
    const candidates = known ? [...known.keys()].filter((k) => deniedOptionReason(k) === undefined) : [];
    for (const key of keys) {
      const denied = deniedOptionReason(key);
      if (denied) {
        if (known?.has(key) && isDeepStrictEqual(known.get(key), settings[key])) continue;
        issues.push(`${appendKey(base, key)}: ${showValue(settings[key])} is not allowed: ${denied}`);
      } else if (known && !known.has(key)) {
        const near = closestName(key, candidates);
        const mean = near ? ` (did you mean ${JSON.stringify(near.name)}?)` : '';
        issues.push(`${appendKey(base, key)}: not an option of this A1111${mean}: A1111 would fail with KeyError (HTTP 500)`);
      }
    }
  }
  if (issues.length) throw new JobInputError(`invalid payload for ${route.method} ${route.path}: ${issues.join('; ')}`);
}
