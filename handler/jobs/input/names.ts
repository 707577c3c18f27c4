/**
 * Name checks: the sampler, scheduler, checkpoint, VAE, upscaler, LoRA, style and script names of a payload, checked
 * against the running server's live lists (handler/a1111/lists.ts) before the generation call. The worker never
 * changes the payload: A1111 receives exactly what the caller sent.
 *
 * Rule (issue 11), following A1111 v1.10.1's own behaviour:
 * - where A1111 fails or certainly misbehaves on an unknown name, the worker refuses first, naming the field, the
 *   value, a "did you mean" and the valid names, whatever `STRICT_NAMES` says ("hard"): a sampler or scheduler
 *   (A1111 silently takes the first sampler / "Automatic": `modules/sd_samplers.py` `get_sampler_and_scheduler`),
 *   a checkpoint (`override_settings.sd_model_checkpoint` dropped silently: `modules/processing.py`
 *   `process_images`; `refiner_checkpoint`, `hr_checkpoint_name`), a VAE, an upscaler, `script_name` and
 *   `alwayson_scripts` titles (A1111 422), ControlNet `model`/`module` and ADetailer `ad_model` (the extension
 *   fails) — see scripts.ts; a combined sampler name that contradicts `scheduler` (A1111 would silently drop one of
 *   the two) and a combined `hr_sampler_name` (A1111 fails on it);
 * - where A1111 silently ignores it — a prompt style it does not have, a `<lora:…>` tag it cannot find, a
 *   mistyped `<LORA:…>` type — the job goes through with a warning line ("soft"), refused only with `strict: true`
 *   (`STRICT_NAMES=true`).
 *
 * A combined sampler name (`"DPM++ 2M Karras"`) is checked as A1111 1.9+ and Forge split it — both parts known — and
 * forwarded unchanged. A missing name refreshes its list once (at most once per list per 30 s) before it is refused.
 *
 * Fields A1111 ignores are not checked: the `hr_*` fields only count with `enable_hr: true` (txt2img),
 * `sampler_index` only when `sampler_name` is empty, `<lora:…>` tags not with `disable_extra_networks: true`.
 */
import type { A1111Lists } from '../../a1111/lists.js';
import { JobInputError } from '../../errors/index.js';
import { appendIndex, appendKey, isObject, showValue } from '../format.js';
import {
  NO_REFINER,
  checkpointCheck,
  closestCheckpointCheck,
  hrUpscalerCheck,
  loraCheck,
  promptNetworkTags,
  runChecks,
  samplerCheck,
  schedulerCheck,
  stringField,
  styleCheck,
  tagTypeIssue,
  upscalerCheck,
  vaeCheck,
  type Check,
  type Lists,
  type NameIssue,
} from './name-checks.js';
import { findScheduler, splitCombinedSampler } from './name-suggest.js';
import type { RouteSpec } from './routes.js';
import { scriptChecks } from './scripts.js';

export {
  closestName,
  findScheduler,
  formatNameList,
  MAX_LISTED_NAMES,
  nameDistance,
  normaliseName,
  splitCombinedSampler,
  suggestionLimit,
  suggestSampler,
  type NameCandidate,
  type Suggestion,
} from './name-suggest.js';
export { checkpointSubstringMatches, promptNetworkTags, type PromptNetworkTag } from './name-checks.js';

/** Options of {@link checkNames}. */
export interface NameCheckOptions {
  /**
   * `STRICT_NAMES`: true = unknown styles and LoRA tags are refused too; false (the default) = they are warnings.
   * Hard issues (samplers, checkpoints, scripts, …) are refused either way.
   */
  strict: boolean;
  /** The job's stop signal: aborts waiting for a list. */
  signal?: AbortSignal;
  /**
   * Names already checked (a request dialect's, under its own field names): {@link checkNames} skips a name of the
   * same kind and value.
   */
  checked?: readonly NamedValue[];
}

/** Throws the hard issues (and the soft ones when strict); returns the soft ones as warnings otherwise. */
function settle(issues: readonly NameIssue[], strict: boolean): string[] {
  const refused = issues.filter((i) => strict || !i.soft).map((i) => i.message);
  if (refused.length) throw new JobInputError(refused.join('; '));
  return issues.filter((i) => i.soft).map((i) => i.message);
}

/**
 * A combined sampler name (`"DPM++ 2M Karras"`, A1111 1.9+ `get_sampler_and_scheduler`) whose scheduler contradicts
 * the payload's `scheduler`: A1111 keeps the request's `scheduler` and silently drops the name's. Refused (hard).
 */
function contradiction(route: RouteSpec, p: Record<string, unknown>, snaps: Lists): NameIssue | undefined {
  if (route.name !== 'txt2img' && route.name !== 'img2img') return undefined;
  const { samplers, schedulers } = snaps;
  if (!samplers?.available || !schedulers?.available) return undefined;
  const key = stringField(p, 'sampler_name') !== undefined ? 'sampler_name' : 'sampler_index';
  const value = stringField(p, key);
  const requested = stringField(p, 'scheduler');
  if (value === undefined || requested === undefined || samplers.names.has(value)) return undefined;
  const split = splitCombinedSampler(value, schedulers.entries);
  if (!split || !samplers.names.has(split.sampler)) return undefined;
  const named = findScheduler(requested, schedulers.entries);
  if (!named || named.name === split.scheduler.name) return undefined;
  return {
    soft: false,
    message: `${key}: ${showValue(value)} names scheduler ${JSON.stringify(split.scheduler.label)} but scheduler is ${showValue(requested)} (A1111 would silently use ${showValue(requested)}; send ${key} ${JSON.stringify(split.sampler)} and one scheduler)`,
  };
}

/** The prompt fields of a generation payload whose `<lora:…>` tags are checked. */
function promptFields(route: RouteSpec, p: Record<string, unknown>): string[] {
  const fields = ['prompt', 'negative_prompt'];
  if (route.name === 'txt2img' && p.enable_hr === true) fields.push('hr_prompt', 'hr_negative_prompt');
  return fields;
}

/** The checks of one payload (and issues that need no list), less the names in `checked`. */
function collectChecks(route: RouteSpec, p: Record<string, unknown>, checked: readonly NamedValue[]): { checks: Check[]; issues: NameIssue[] } {
  const checks: Check[] = [];
  const issues: NameIssue[] = [];
  const done = new Set(checked.map((v) => `${v.kind}:${v.value}`));
  const wanted = (kind: NameKind, value: string | undefined): value is string => value !== undefined && !done.has(`${kind}:${value}`);
  const add = (key: string, kind: NameKind | undefined, make: (path: string, value: string) => Check) => {
    const v = stringField(p, key);
    if (v !== undefined && (kind === undefined || wanted(kind, v))) checks.push(make(key, v));
  };
  if (route.name === 'txt2img' || route.name === 'img2img') {
    const tab = route.name;
    // A1111 uses `sampler_name or sampler_index` (`modules/api/api.py`); the other one is ignored.
    const samplerKey = stringField(p, 'sampler_name') !== undefined ? 'sampler_name' : 'sampler_index';
    add(samplerKey, 'sampler', (path, v) => samplerCheck(path, v, 'scheduler'));
    add('scheduler', 'scheduler', schedulerCheck);
    const ov = Object.hasOwn(p, 'override_settings') ? p.override_settings : undefined;
    if (isObject(ov)) {
      const ck = stringField(ov, 'sd_model_checkpoint');
      if (wanted('checkpoint', ck)) checks.push(checkpointCheck(appendKey('override_settings', 'sd_model_checkpoint'), ck));
      const vae = stringField(ov, 'sd_vae');
      if (vae !== undefined) checks.push(vaeCheck(appendKey('override_settings', 'sd_vae'), vae));
    }
    const refiner = stringField(p, 'refiner_checkpoint');
    if (refiner !== undefined && !NO_REFINER.has(refiner)) checks.push(closestCheckpointCheck('refiner_checkpoint', refiner));
    if (tab === 'txt2img' && p.enable_hr === true) {
      add('hr_sampler_name', undefined, (path, v) => samplerCheck(path, v, 'hr_scheduler'));
      add('hr_scheduler', undefined, schedulerCheck);
      const hrCk = stringField(p, 'hr_checkpoint_name');
      if (hrCk !== undefined && hrCk !== 'Use same checkpoint') checks.push(closestCheckpointCheck('hr_checkpoint_name', hrCk));
      add('hr_upscaler', 'hr-upscaler', hrUpscalerCheck);
    }
    if (p.disable_extra_networks !== true) {
      for (const field of promptFields(route, p)) {
        const text = stringField(p, field);
        if (text === undefined) continue;
        const seen = new Set<string>();
        for (const tag of promptNetworkTags(text)) {
          const typeIssue = tagTypeIssue(field, tag);
          if (typeIssue) issues.push({ message: typeIssue, soft: true });
          if ((tag.type === 'lora' || tag.type === 'lyco') && !seen.has(tag.name) && wanted('lora', tag.name)) {
            seen.add(tag.name);
            checks.push(loraCheck(field, tag));
          }
        }
      }
    }
    const styles = Object.hasOwn(p, 'styles') ? p.styles : undefined;
    if (Array.isArray(styles)) {
      styles.forEach((s: unknown, i) => {
        if (typeof s === 'string' && s !== '') checks.push(styleCheck(appendIndex('styles', i), s));
      });
    }
    checks.push(...scriptChecks(p, tab));
  } else if (route.name === 'options') {
    add('sd_model_checkpoint', 'checkpoint', checkpointCheck);
    add('sd_vae', undefined, vaeCheck);
  } else if (route.name === 'extra-single-image' || route.name === 'extra-batch-images') {
    add('upscaler_1', 'upscaler', upscalerCheck);
    add('upscaler_2', 'upscaler', upscalerCheck);
  }
  return { checks, issues };
}

/** Kinds of names {@link checkNamedValues} checks, each against its A1111 list. */
export type NameKind = 'sampler' | 'scheduler' | 'checkpoint' | 'lora' | 'upscaler' | 'hr-upscaler';

/** One name to check, with the path to name in messages (a request dialect's own field, e.g. `loras[0][0]`). */
export interface NamedValue {
  kind: NameKind;
  /** Field path shown in messages. */
  path: string;
  value: string;
}

/**
 * Checks single names against A1111's live lists, with the same rules, refresh-on-miss and messages as
 * {@link checkNames}, but naming the caller's field paths: for request dialects (SDCN `loras[0][0]`, `model`),
 * whose fields become A1111 fields (a `<lora:…>` tag, `override_settings.sd_model_checkpoint`) only after
 * translation. `sampler`: a `/samplers` name (a combined 1.9+ name is accepted when its parts exist);
 * `scheduler`: a `/schedulers` name or label; `checkpoint`: a `/sd-models` alias; `lora`: a `/loras` name or
 * alias; `upscaler`: a `/upscalers` name or `None`; `hr-upscaler`: a `/upscalers` name or latent upscale mode.
 * As there, unknown LoRAs are soft (warnings unless `opts.strict`), the others hard (always refused).
 * @returns warnings: one line per unknown LoRA when `opts.strict` is false, else `[]`
 * @throws JobInputError with one line per refused name, joined with `; `, e.g.
 *   `loras[0][0]: LoRA "detail" (<lora:detail:0.5>) is not known to A1111 (did you mean "add_detail"?); valid: …`
 * @throws A1111Error `unreachable` when A1111 cannot be reached for a list, `aborted` when `opts.signal` aborts
 */
export async function checkNamedValues(values: readonly NamedValue[], lists: A1111Lists, opts: NameCheckOptions): Promise<string[]> {
  const checks = values.map((v): Check => {
    switch (v.kind) {
      case 'sampler':
        return samplerCheck(v.path, v.value, 'scheduler');
      case 'scheduler':
        return schedulerCheck(v.path, v.value);
      case 'checkpoint':
        return checkpointCheck(v.path, v.value);
      case 'lora':
        return loraCheck(v.path, { type: 'lora', name: v.value, tag: `<lora:${v.value}>` });
      case 'upscaler':
        return upscalerCheck(v.path, v.value);
      case 'hr-upscaler':
        return hrUpscalerCheck(v.path, v.value);
    }
  });
  if (checks.length === 0) return [];
  const { issues } = await runChecks(checks, lists, opts.signal);
  return settle(issues, opts.strict);
}

/**
 * Checks the names in a payload against the server's live lists (A1111 `modules/api/api.py` list routes,
 * `modules/sd_samplers.py` samplers and schedulers, `modules/sd_models.py` checkpoints, `modules/sd_vae.py` VAEs;
 * scripts.ts for scripts and extensions). Hard issues are always refused,
 * soft ones (styles, LoRA tags) only with `opts.strict` (see the module comment):
 *
 * - txt2img/img2img: `sampler_name` (or `sampler_index` when `sampler_name` is empty) — an exact `/samplers` name or
 *   a combined `<sampler> <scheduler label|name|alias>` whose parts exist (forwarded as sent; refused when it
 *   contradicts `scheduler`); aliases such as `k_euler_a` are refused (A1111 would take the first sampler) with the
 *   real name suggested; `scheduler` — a `/schedulers` name or label; `override_settings.sd_model_checkpoint` — a
 *   `/sd-models` alias (title `name.safetensors [hash]`, file name, model_name, base name, hash);
 *   `override_settings.sd_vae` — a `/sd-vae` model_name, `Automatic` or `None`; `refiner_checkpoint` (not
 *   `None`/`none`) — an alias or a part of exactly one title (A1111's closest match); `<lora:name:w>` / `<lyco:…>`
 *   tags in `prompt` and `negative_prompt` — a `/loras` name or alias (soft; not with `disable_extra_networks: true`);
 *   each of `styles` — a `/prompt-styles` name (soft); `script_name`, `alwayson_scripts` (titles, ControlNet units,
 *   ADetailer models) — see scripts.ts. With `enable_hr: true` (txt2img) also `hr_sampler_name` (no combined name),
 *   `hr_scheduler`, `hr_checkpoint_name` (`Use same checkpoint` allowed), `hr_upscaler` (`/upscalers` or
 *   `/latent-upscale-modes`) and the tags of `hr_prompt`/`hr_negative_prompt`.
 * - POST /options: `sd_model_checkpoint`, `sd_vae` as above.
 * - extra-single-image / extra-batch-images: `upscaler_1`, `upscaler_2` — `/upscalers` names or `None`.
 *
 * Only the lists a payload needs are fetched (then cached by `lists`). When a name is missing, its lists are
 * refreshed once (`lists.refresh`: `refresh-checkpoints`/`refresh-vae`/`refresh-loras` first where A1111 has them;
 * at most once per 30 s per list) and the name checked again. Lists the server does not serve (e.g. `/schedulers`
 * before 1.9, `/controlnet/model_list` without ControlNet) are skipped.
 *
 * @param route the resolved route; payloads of other routes are not looked at
 * @param payload the payload (never mutated: A1111 receives exactly what the caller sent)
 * @returns the warnings (soft issues when not strict)
 * @throws JobInputError with one line naming each refused field, the value, a "did you mean" and the valid names,
 *   e.g. `sampler_name: "DPM++ 2M Karas" is not an A1111 sampler (did you mean "DPM++ 2M" with scheduler
 *   "karras"?); valid: DPM++ 2M, DPM++ SDE, …`; several issues are joined with `; `
 * @throws A1111Error `unreachable` when A1111 cannot be reached for a list, `aborted` when `signal` aborts
 */
export async function checkNames(route: RouteSpec, payload: unknown, lists: A1111Lists, opts: NameCheckOptions): Promise<string[]> {
  if (!isObject(payload)) return [];
  const { checks, issues } = collectChecks(route, payload, opts.checked ?? []);
  if (checks.length === 0 && issues.length === 0) return [];
  const { snaps, issues: found } = await runChecks(checks, lists, opts.signal);
  const all = [...issues, ...found];
  const contra = contradiction(route, payload, snaps);
  if (contra) all.push(contra);
  return settle(all, opts.strict);
}
