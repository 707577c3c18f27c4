/**
 * Name checks: the sampler, scheduler, checkpoint, VAE, upscaler, LoRA, style and script names of a validated
 * payload, checked against A1111's live lists (handler/a1111/lists.ts) before the generation call.
 *
 * Why: A1111 silently substitutes what it does not know — an unknown sampler becomes the first sampler, an
 * unknown scheduler "Automatic" (spec a1111 §2.11), an unknown `override_settings.sd_model_checkpoint` is dropped
 * (§2.12), an unknown VAE becomes none, unknown styles and `<lora:…>` tags are ignored — so a typo produces a
 * different image instead of an error. Here each unknown name fails the job with the field, the value, the valid
 * names and a "did you mean" (or, with `STRICT_NAMES=false`, becomes a warning).
 *
 * Fields A1111 ignores are not checked: the `hr_*` fields only count with `enable_hr: true` (txt2img),
 * `sampler_index` only when `sampler_name` is empty, `<lora:…>` tags not with `disable_extra_networks: true`.
 *
 * A1111 1.9+ takes combined names such as `"DPM++ 2M Karras"` apart itself (sampler `DPM++ 2M`, scheduler
 * Karras; §2.11); the payload returned here has them split the same way, so that every A1111 version gets the
 * sampler and scheduler the caller meant.
 */
import type { A1111Lists, CheckpointEntry, ListName, ListSnapshot, SchedulerEntry } from '../a1111/lists.js';
import { JobInputError } from './errors.js';
import { appendIndex, appendKey, editDistance, oneLineJson, plural, showValue } from './format.js';
import type { RouteSpec } from './routes.js';

/** What {@link checkNames} returns. */
export interface NameCheckResult {
  /** The payload to send: the input itself, or a copy with a combined sampler name split. */
  payload: unknown;
  /** With `strict: false`: one line per unknown name (the message strict mode would fail with). */
  warnings: string[];
  /** One line per rewrite made (a combined sampler name split), for the log. */
  changes: string[];
}

/** Options of {@link checkNames}. */
export interface NameCheckOptions {
  /** true: unknown names throw JobInputError (`STRICT_NAMES`, default); false: they become warnings. */
  strict: boolean;
  /** The job's stop signal: aborts waiting for a list. */
  signal?: AbortSignal;
}

// ------------------------------------------------------------------ pure helpers (suggestions)

/** Model file extensions ignored when names are compared for suggestions. */
const MODEL_EXTENSION = /\.(safetensors|ckpt|pt|pth|bin|gguf)$/i;

/**
 * A name reduced for loose comparison: lower case, a model file extension dropped, `+` read as `p`
 * (`DPM++` ~ `dpmpp`), spaces, `_` and `-` removed. `"DPM++ 2M"`, `"dpmpp_2m"` and `"DPMPP 2M"` all become `dpmpp2m`.
 */
export function normaliseName(name: string): string {
  return name.trim().replace(MODEL_EXTENSION, '').toLowerCase().replace(/\+/g, 'p').replace(/[\s_-]+/g, '');
}


/** A name that can be suggested, with other spellings that lead to it (aliases, titles, labels). */
export interface NameCandidate {
  /** The name to suggest. */
  readonly name: string;
  /** Other spellings that match this candidate (e.g. a sampler's `k_euler_a`, a scheduler's label). */
  readonly forms?: readonly string[];
}

/**
 * A suggestion and how far it is from the value: 0 same but for case/spaces/`_`/`+`; 1–3 the edit distance;
 * 2 the value is part of the name; 3 the name is part of the value.
 */
export interface Suggestion {
  readonly name: string;
  readonly score: number;
}

/** Values longer than this get no edit-distance suggestion (cost). */
const MAX_SUGGEST_LENGTH = 200;

/** Largest edit distance suggested, by length of the normalised value: ≤ 4 → 1, ≤ 8 → 2, longer → 3. */
export function suggestionLimit(normalisedLength: number): number {
  return normalisedLength <= 4 ? 1 : normalisedLength <= 8 ? 2 : 3;
}

/**
 * The candidate closest to an unknown name ("did you mean"), in this order:
 * 1. a name or form equal to the value ignoring case, or equal after {@link normaliseName} (score 0);
 * 2. the smallest edit distance between normalised forms, at most {@link suggestionLimit} (score = distance;
 *    ties go to the smaller distance as written, then to the first candidate in list order), unless a substring
 *    match scores lower:
 * 3. the only candidate whose normalised name or form contains the normalised value (score 2), else the only one
 *    contained in the value (score 3); both sides at least 4 characters.
 * @returns the suggestion, or undefined when nothing is close
 */
export function closestName(value: string, candidates: readonly (string | NameCandidate)[]): Suggestion | undefined {
  const cands = candidates.map((c) => (typeof c === 'string' ? { name: c, forms: [] as readonly string[] } : { name: c.name, forms: c.forms ?? [] }));
  const lower = value.toLowerCase();
  const norm = normaliseName(value);
  const spellings = cands.map((c) => [c.name, ...c.forms]);
  const normalised = spellings.map((s) => s.map(normaliseName));
  for (let i = 0; i < cands.length; i++) {
    if (spellings[i]!.some((s) => s.toLowerCase() === lower) || (norm !== '' && normalised[i]!.includes(norm))) return { name: cands[i]!.name, score: 0 };
  }
  if (norm === '' || value.length > MAX_SUGGEST_LENGTH) return undefined;
  const limit = suggestionLimit(norm.length);
  let best: Suggestion | undefined;
  let bestRaw = Infinity;
  for (let i = 0; i < cands.length; i++) {
    normalised[i]!.forEach((f, j) => {
      if (Math.abs(f.length - norm.length) > limit) return;
      const d = editDistance(norm, f);
      if (d > limit || (best && d > best.score)) return;
      // Equally near once normalised: the nearer as written wins ("R-ESRGAN 4x" → "R-ESRGAN 4x+", not "ESRGAN_4x").
      const raw = editDistance(lower, spellings[i]![j]!.toLowerCase());
      if (!best || d < best.score || raw < bestRaw) {
        best = { name: cands[i]!.name, score: d };
        bestRaw = raw;
      }
    });
  }
  if (norm.length >= 4 && (!best || best.score > 2)) {
    const unique = (test: (f: string) => boolean) => {
      const found = cands.filter((_, i) => normalised[i]!.some((f) => f.length >= 4 && test(f)));
      return found.length === 1 ? found[0]!.name : undefined;
    };
    const containing = unique((f) => f.includes(norm));
    if (containing !== undefined) return { name: containing, score: 2 };
    const contained = unique((f) => norm.includes(f));
    if (contained !== undefined && (!best || best.score > 3)) return { name: contained, score: 3 };
  }
  return best;
}

/**
 * A1111's split of a combined sampler name (`get_sampler_and_scheduler`, spec §2.11): for each scheduler in list
 * order, when the name ends with `" " + label`, `" " + name` or `" " + alias` (case-sensitive), that suffix is cut
 * off and the scheduler taken (a later scheduler can cut again).
 * @returns the remaining sampler name and the scheduler found, or null when no suffix matched
 */
export function splitCombinedSampler(value: string, schedulers: readonly SchedulerEntry[]): { sampler: string; scheduler: SchedulerEntry } | null {
  let name = value;
  let found: SchedulerEntry | null = null;
  for (const s of schedulers) {
    for (const option of [s.label, s.name, ...s.aliases]) {
      if (option !== '' && name.endsWith(` ${option}`)) {
        found = s;
        name = name.slice(0, name.length - option.length - 1);
        break;
      }
    }
  }
  return found ? { sampler: name, scheduler: found } : null;
}

/** The scheduler a `scheduler` value names (by `name` or `label`, as A1111's `schedulers_map`), if any. */
export function findScheduler(value: string, schedulers: readonly SchedulerEntry[]): SchedulerEntry | undefined {
  return schedulers.find((s) => s.name === value) ?? schedulers.find((s) => s.label === value);
}

function samplerCandidates(samplers: readonly { name: string; aliases: readonly string[] }[]): NameCandidate[] {
  return samplers.map((s) => ({ name: s.name, forms: s.aliases }));
}

function schedulerCandidates(schedulers: readonly SchedulerEntry[]): NameCandidate[] {
  return schedulers.map((s) => ({ name: s.name, forms: [s.label, ...s.aliases] }));
}

/**
 * "Did you mean" for an unknown sampler name: the closest sampler (aliases such as `k_euler_a` lead to their
 * sampler), or, when closer, a sampler plus scheduler read from a combined name with a typo (`"DPM++ 2M Karas"` →
 * `"DPM++ 2M" with scheduler "karras"`).
 * @param schedulerField the field to name in a combined suggestion (`scheduler` or `hr_scheduler`)
 * @returns the suggestion text (quoted names), or undefined
 */
export function suggestSampler(
  value: string,
  samplers: readonly { name: string; aliases: readonly string[] }[],
  schedulers: readonly SchedulerEntry[],
  schedulerField = 'scheduler',
): string | undefined {
  const sCands = samplerCandidates(samplers);
  const whole = closestName(value, sCands);
  if (whole?.score === 0) return JSON.stringify(whole.name);
  let split: { sampler: string; scheduler: string; score: number } | undefined;
  if (schedulers.length && value.length <= MAX_SUGGEST_LENGTH) {
    const schCands = schedulerCandidates(schedulers);
    for (let i = value.lastIndexOf(' '); i > 0; i = value.lastIndexOf(' ', i - 1)) {
      const prefix = value.slice(0, i).trim();
      const suffix = value.slice(i + 1).trim();
      if (!prefix || !suffix) continue;
      const p = closestName(prefix, sCands);
      const s = p && closestName(suffix, schCands);
      if (p && s && (!split || p.score + s.score < split.score)) split = { sampler: p.name, scheduler: s.name, score: p.score + s.score };
    }
  }
  if (split && (!whole || split.score < whole.score)) return `${JSON.stringify(split.sampler)} with ${schedulerField} ${JSON.stringify(split.scheduler)}`;
  return whole ? JSON.stringify(whole.name) : undefined;
}

/** At most this many valid names are listed in a message. */
export const MAX_LISTED_NAMES = 20;

/**
 * The valid names of a message: `a, b, c`, the first {@link MAX_LISTED_NAMES} then `… (N more)`; names with a
 * comma, quote or non-printable character are JSON-quoted. Always one line.
 */
export function formatNameList(names: readonly string[], max = MAX_LISTED_NAMES): string {
  if (names.length === 0) return '(none)';
  const shown = names.slice(0, max).map((n) => (/^[\x20-\x7e]+$/.test(n) && !/[,"]/.test(n) && n.trim() === n ? n : oneLineJson(n)!));
  return names.length > max ? `${shown.join(', ')}, … (${names.length - max} more)` : shown.join(', ');
}

/** One extra-network tag of a prompt. */
export interface PromptNetworkTag {
  /** The whole tag, e.g. `<lora:add_detail:0.8>`. */
  tag: string;
  /** The network type as written (`lora`, `lyco`, `hypernet`, …). */
  type: string;
  /** The first `:`-separated item: the network name. */
  name: string;
}

/**
 * The extra-network tags of a prompt, parsed as A1111's `extra_networks.parse_prompt` does: `<type:args>` with
 * `type` made of word characters and `args` up to the next `>`, the name being the first `:`-separated item.
 */
export function promptNetworkTags(prompt: string): PromptNetworkTag[] {
  const out: PromptNetworkTag[] = [];
  for (const m of prompt.matchAll(/<([\p{L}\p{N}_]+):([^>]+)>/gu)) {
    out.push({ tag: m[0], type: m[1]!, name: m[2]!.split(':')[0]! });
  }
  return out;
}

// ------------------------------------------------------------------ checks

type Lists = { [L in ListName]?: ListSnapshot<L> };

/** What one check concluded. */
type Verdict =
  | { ok: true }
  /** Unknown: may be found after a refresh of the check's lists. */
  | { ok: false; miss: true; message: string }
  /** Wrong whatever the lists say (no refresh). */
  | { ok: false; miss: false; message: string };

interface Check {
  /** The lists the check needs; it is skipped when one of them is unavailable. */
  lists: readonly ListName[];
  /** Lists it uses when A1111 serves them (`run` must look at `available`). */
  optional?: readonly ListName[];
  /** Evaluates the value against the lists. */
  run(lists: Required<Lists>): Verdict;
}

function listsOf(c: Check): ListName[] {
  return [...c.lists, ...(c.optional ?? [])];
}

const OK: Verdict = { ok: true };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-empty string field of an object (own property), else undefined. */
function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const v = Object.hasOwn(obj, key) ? obj[key] : undefined;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function unknownName(path: string, subject: string, noun: string, suggestion: string | undefined, valid: readonly string[]): string {
  const mean = suggestion ? ` (did you mean ${suggestion}?)` : '';
  return `${path}: ${subject} is not ${noun}${mean}; valid: ${formatNameList(valid)}`;
}

function miss(message: string): Verdict {
  return { ok: false, miss: true, message };
}

/** Special values of `sd_vae` besides the VAE files (A1111's `sd_vae_items`). */
const VAE_SPECIAL = ['Automatic', 'None'];
/** `refiner_checkpoint` values meaning "no refiner" (A1111 `process_images`). */
const NO_REFINER = new Set(['None', 'none']);
/** The UI's "same as the first pass" choices, which the API does not translate (A1111 `txt2img.py` does). */
const UI_SAME = { hr_sampler_name: 'Use same sampler', hr_scheduler: 'Use same scheduler' } as const;

function samplerCheck(path: string, value: string, schedulerField: 'scheduler' | 'hr_scheduler'): Check {
  return {
    lists: ['samplers'],
    // A1111 before 1.9 has no /schedulers (and lists combined names such as "DPM++ 2M Karras" as samplers).
    optional: ['schedulers'],
    run: ({ samplers, schedulers }) => {
      if (samplers.names.has(value)) return OK;
      const sch = schedulers.available ? schedulers.entries : [];
      const split = splitCombinedSampler(value, sch);
      if (schedulerField === 'hr_scheduler') {
        if (value === UI_SAME.hr_sampler_name) return { ok: false, miss: false, message: `${path}: ${showValue(value)} is a web UI choice the API does not take; leave ${path} out to use the first pass's sampler` };
        if (split && samplers.names.has(split.sampler)) {
          // A1111 does not take hires sampler names apart: create_sampler fails with "bad sampler name".
          return {
            ok: false,
            miss: false,
            message: `${path}: ${showValue(value)} is not an A1111 sampler (A1111 splits combined names only for sampler_name; send ${path} ${JSON.stringify(split.sampler)} with hr_scheduler ${JSON.stringify(split.scheduler.name)})`,
          };
        }
      } else if (split && samplers.names.has(split.sampler)) {
        return OK; // split by checkNames (or refused there when it contradicts `scheduler`)
      }
      return miss(unknownName(path, showValue(value), 'an A1111 sampler', suggestSampler(value, samplers.entries, sch, schedulerField), samplers.shown));
    },
  };
}

function schedulerCheck(path: string, value: string): Check {
  return {
    lists: ['schedulers'],
    run: ({ schedulers }) => {
      if (schedulers.names.has(value)) return OK;
      if (path === 'hr_scheduler' && value === UI_SAME.hr_scheduler) {
        return { ok: false, miss: false, message: `${path}: ${showValue(value)} is a web UI choice the API does not take; leave hr_scheduler out to use the first pass's scheduler` };
      }
      const s = closestName(value, schedulerCandidates(schedulers.entries));
      return miss(unknownName(path, showValue(value), 'an A1111 scheduler', s && JSON.stringify(s.name), schedulers.shown));
    },
  };
}

function checkpointCandidates(entries: readonly CheckpointEntry[]): NameCandidate[] {
  return entries.map((c) => ({ name: c.model_name, forms: c.aliases }));
}

/** `override_settings.sd_model_checkpoint`, POST /options `sd_model_checkpoint`: an exact `checkpoint_aliases` key (§2.12). */
function checkpointCheck(path: string, value: string): Check {
  return {
    lists: ['sd-models'],
    run: ({ 'sd-models': models }) => {
      if (models.names.has(value)) return OK;
      const s = closestName(value, checkpointCandidates(models.entries));
      return miss(unknownName(path, showValue(value), 'an A1111 checkpoint (title, file name or model name)', s && JSON.stringify(s.name), models.shown));
    },
  };
}

/**
 * The checkpoints A1111's `get_closet_checkpoint_match` could pick for a value that is not an alias: titles
 * containing it, else titles containing it without a trailing ` [hash]`; shortest title first.
 */
export function checkpointSubstringMatches(value: string, entries: readonly CheckpointEntry[]): CheckpointEntry[] {
  const byLength = (list: CheckpointEntry[]) => list.sort((a, b) => a.title.length - b.title.length);
  const direct = entries.filter((c) => c.title.includes(value));
  if (direct.length) return byLength(direct);
  const stripped = value.replace(/\s*\[[^\]]+\]\s*$/, '');
  return stripped ? byLength(entries.filter((c) => c.title.includes(stripped))) : [];
}

/**
 * `refiner_checkpoint`, `hr_checkpoint_name`: A1111 resolves these with `get_closet_checkpoint_match` — an alias,
 * else the shortest title containing the value. Accepted: an alias, or a value only one title contains;
 * refused: a value several titles contain (A1111 would silently take the shortest) or none.
 */
function closestCheckpointCheck(path: string, value: string): Check {
  return {
    lists: ['sd-models'],
    run: ({ 'sd-models': models }) => {
      if (models.names.has(value)) return OK;
      const matches = checkpointSubstringMatches(value, models.entries);
      if (matches.length === 1) return OK;
      if (matches.length > 1) {
        return {
          ok: false,
          miss: false,
          message: `${path}: ${showValue(value)} matches ${plural(matches.length, 'A1111 checkpoint')} (A1111 would take ${JSON.stringify(matches[0]!.title)}); name one: ${formatNameList(matches.map((m) => m.title))}`,
        };
      }
      const s = closestName(value, checkpointCandidates(models.entries));
      return miss(unknownName(path, showValue(value), 'an A1111 checkpoint (title, file name or model name)', s && JSON.stringify(s.name), models.shown));
    },
  };
}

function vaeCheck(path: string, value: string): Check {
  return {
    lists: ['sd-vae'],
    run: ({ 'sd-vae': vaes }) => {
      if (vaes.names.has(value) || VAE_SPECIAL.includes(value)) return OK;
      const valid = [...VAE_SPECIAL, ...vaes.shown];
      const s = closestName(value, valid);
      return miss(unknownName(path, showValue(value), 'an A1111 VAE', s && JSON.stringify(s.name), valid));
    },
  };
}

function hrUpscalerCheck(path: string, value: string): Check {
  return {
    lists: ['upscalers', 'latent-upscale-modes'],
    run: ({ upscalers, 'latent-upscale-modes': latent }) => {
      if (latent.names.has(value) || upscalers.names.has(value)) return OK;
      const valid = [...latent.shown, ...upscalers.shown];
      const s = closestName(value, valid);
      return miss(unknownName(path, showValue(value), 'an A1111 upscaler or latent upscale mode', s && JSON.stringify(s.name), valid));
    },
  };
}

function upscalerCheck(path: string, value: string): Check {
  return {
    lists: ['upscalers'],
    run: ({ upscalers }) => {
      if (upscalers.names.has(value) || value === 'None') return OK;
      const valid = upscalers.shown.includes('None') ? upscalers.shown : ['None', ...upscalers.shown];
      const s = closestName(value, valid);
      return miss(unknownName(path, showValue(value), 'an A1111 upscaler', s && JSON.stringify(s.name), valid));
    },
  };
}

function loraCheck(path: string, tag: PromptNetworkTag): Check {
  return {
    lists: ['loras'],
    run: ({ loras }) => {
      if (loras.names.has(tag.name)) return OK;
      const s = closestName(
        tag.name,
        loras.entries.map((l) => ({ name: l.name, forms: l.alias ? [l.alias] : [] })),
      );
      return miss(unknownName(path, `LoRA ${showValue(tag.name)} (${showValue(tag.tag)})`, 'known to A1111', s && JSON.stringify(s.name), loras.shown));
    },
  };
}

function styleCheck(path: string, value: string): Check {
  return {
    lists: ['prompt-styles'],
    run: ({ 'prompt-styles': styles }) => {
      if (styles.names.has(value)) return OK;
      const s = closestName(value, styles.shown);
      return miss(unknownName(path, showValue(value), 'an A1111 prompt style', s && JSON.stringify(s.name), styles.shown));
    },
  };
}

function scriptCheck(path: string, value: string, tab: 'txt2img' | 'img2img'): Check {
  return {
    lists: ['scripts'],
    run: ({ scripts }) => {
      const names = scripts.entries[tab];
      // A1111 compares titles case-insensitively (`script_name_to_index`); /scripts lists them in lower case.
      if (names.some((n) => n.toLowerCase() === value.toLowerCase())) return OK;
      const s = closestName(value, names);
      return miss(unknownName(path, showValue(value), `an A1111 ${tab} script`, s && JSON.stringify(s.name), names));
    },
  };
}

/** Issues found without any list (a mistyped extra-network type in a prompt). */
function tagTypeIssue(path: string, tag: PromptNetworkTag): string | undefined {
  const lower = tag.type.toLowerCase();
  if ((lower === 'lora' || lower === 'lyco') && tag.type !== lower) {
    return `${path}: ${showValue(tag.tag)} is not an A1111 extra network (types are case-sensitive: did you mean <${lower}:…>?)`;
  }
  return undefined;
}

/** The prompt fields of a generation payload whose `<lora:…>` tags are checked. */
function promptFields(route: RouteSpec, p: Record<string, unknown>): string[] {
  const fields = ['prompt', 'negative_prompt'];
  if (route.name === 'txt2img' && p.enable_hr === true) fields.push('hr_prompt', 'hr_negative_prompt');
  return fields;
}

/** The checks of one payload (and issues that need no list). */
function collectChecks(route: RouteSpec, p: Record<string, unknown>): { checks: Check[]; issues: string[] } {
  const checks: Check[] = [];
  const issues: string[] = [];
  const add = (key: string, make: (path: string, value: string) => Check) => {
    const v = stringField(p, key);
    if (v !== undefined) checks.push(make(key, v));
  };
  if (route.name === 'txt2img' || route.name === 'img2img') {
    const tab = route.name;
    // A1111 uses `sampler_name or sampler_index` (§2.11); the other one is ignored.
    const samplerKey = stringField(p, 'sampler_name') !== undefined ? 'sampler_name' : 'sampler_index';
    add(samplerKey, (path, v) => samplerCheck(path, v, 'scheduler'));
    add('scheduler', schedulerCheck);
    const ov = Object.hasOwn(p, 'override_settings') ? p.override_settings : undefined;
    if (isObject(ov)) {
      const ck = stringField(ov, 'sd_model_checkpoint');
      if (ck !== undefined) checks.push(checkpointCheck(appendKey('override_settings', 'sd_model_checkpoint'), ck));
      const vae = stringField(ov, 'sd_vae');
      if (vae !== undefined) checks.push(vaeCheck(appendKey('override_settings', 'sd_vae'), vae));
    }
    const refiner = stringField(p, 'refiner_checkpoint');
    if (refiner !== undefined && !NO_REFINER.has(refiner)) checks.push(closestCheckpointCheck('refiner_checkpoint', refiner));
    if (tab === 'txt2img' && p.enable_hr === true) {
      add('hr_sampler_name', (path, v) => samplerCheck(path, v, 'hr_scheduler'));
      add('hr_scheduler', schedulerCheck);
      const hrCk = stringField(p, 'hr_checkpoint_name');
      if (hrCk !== undefined && hrCk !== 'Use same checkpoint') checks.push(closestCheckpointCheck('hr_checkpoint_name', hrCk));
      add('hr_upscaler', hrUpscalerCheck);
    }
    if (p.disable_extra_networks !== true) {
      for (const field of promptFields(route, p)) {
        const text = stringField(p, field);
        if (text === undefined) continue;
        const seen = new Set<string>();
        for (const tag of promptNetworkTags(text)) {
          const typeIssue = tagTypeIssue(field, tag);
          if (typeIssue) issues.push(typeIssue);
          if ((tag.type === 'lora' || tag.type === 'lyco') && !seen.has(tag.name)) {
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
    add('script_name', (path, v) => scriptCheck(path, v, tab));
  } else if (route.name === 'options') {
    add('sd_model_checkpoint', checkpointCheck);
    add('sd_vae', vaeCheck);
  } else if (route.name === 'extra-single-image' || route.name === 'extra-batch-images') {
    add('upscaler_1', upscalerCheck);
    add('upscaler_2', upscalerCheck);
  }
  return { checks, issues };
}

/** Fetches the given lists (cached ones are not fetched again). */
async function fetchLists(names: Iterable<ListName>, lists: A1111Lists, signal: AbortSignal | undefined): Promise<Lists> {
  const unique = [...new Set(names)];
  const snaps = await Promise.all(unique.map((n) => lists.get(n, signal)));
  const out: Record<string, ListSnapshot> = {};
  unique.forEach((n, i) => (out[n] = snaps[i]!));
  return out as Lists;
}

function isMiss(v: Verdict | null | undefined): boolean {
  return v !== null && v !== undefined && !v.ok && v.miss;
}

/** Runs a check, or returns null when one of its lists is unavailable (the check is skipped). */
function runCheck(check: Check, snaps: Lists): Verdict | null {
  if (check.lists.some((l) => !snaps[l]?.available)) return null;
  return check.run(snaps as Required<Lists>);
}

/**
 * The combined-name split of the payload's sampler field (A1111 1.9+ `get_sampler_and_scheduler`, spec §2.11),
 * on the payload itself: a new payload, an issue (the combined name contradicts `scheduler`), or nothing to do.
 */
function splitSampler(route: RouteSpec, p: Record<string, unknown>, snaps: Lists): { payload?: Record<string, unknown>; change?: string; issue?: string } {
  if (route.name !== 'txt2img' && route.name !== 'img2img') return {};
  const { samplers, schedulers } = snaps;
  if (!samplers?.available || !schedulers?.available) return {};
  const key = stringField(p, 'sampler_name') !== undefined ? 'sampler_name' : 'sampler_index';
  const value = stringField(p, key);
  if (value === undefined || samplers.names.has(value)) return {};
  const split = splitCombinedSampler(value, schedulers.entries);
  if (!split || !samplers.names.has(split.sampler)) return {};
  const requested = stringField(p, 'scheduler');
  if (requested !== undefined) {
    const named = findScheduler(requested, schedulers.entries);
    if (!named) return {}; // the scheduler check reports it
    if (named.name !== split.scheduler.name) {
      return {
        issue: `${key}: ${showValue(value)} names scheduler ${JSON.stringify(split.scheduler.label)} but scheduler is ${showValue(requested)} (send ${key} ${JSON.stringify(split.sampler)} and one scheduler)`,
      };
    }
    return {
      payload: { ...p, [key]: split.sampler },
      change: `${key} ${showValue(value)} sent as ${JSON.stringify(split.sampler)} (scheduler ${showValue(requested)} given)`,
    };
  }
  return {
    payload: { ...p, [key]: split.sampler, scheduler: split.scheduler.label },
    change: `${key} ${showValue(value)} sent as ${key} ${JSON.stringify(split.sampler)} + scheduler ${JSON.stringify(split.scheduler.label)} (A1111 1.9+ names)`,
  };
}

/**
 * Runs checks against the lists they need; a miss refreshes its lists once (see {@link checkNames}) and runs
 * every check again. Returns the lists used and one message per failed check.
 */
async function runChecks(checks: readonly Check[], lists: A1111Lists, signal: AbortSignal | undefined): Promise<{ snaps: Lists; messages: string[] }> {
  let snaps = await fetchLists(checks.flatMap(listsOf), lists, signal);
  let verdicts = checks.map((c) => runCheck(c, snaps));
  const missed = checks.filter((_, i) => isMiss(verdicts[i]));
  if (missed.length) {
    const toRefresh = [...new Set(missed.flatMap(listsOf))];
    const refreshed = await Promise.all(toRefresh.map((l) => lists.refresh(l, signal)));
    if (refreshed.some(Boolean)) {
      snaps = await fetchLists(checks.flatMap(listsOf), lists, signal);
      verdicts = checks.map((c) => runCheck(c, snaps));
    }
  }
  const messages: string[] = [];
  for (const v of verdicts) if (v && !v.ok) messages.push(v.message);
  return { snaps, messages };
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
 * @returns warnings (one line per unknown name) when `opts.strict` is false, else `[]`
 * @throws JobInputError (strict) with one line per unknown name, joined with `; `, e.g.
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
  const { messages } = await runChecks(checks, lists, opts.signal);
  if (messages.length && opts.strict) throw new JobInputError(messages.join('; '));
  return messages;
}

/**
 * Checks the names in a validated payload against A1111's live lists (spec a1111 §2.5 list routes, §2.11 samplers
 * and schedulers, §2.12 checkpoints and VAEs):
 *
 * - txt2img/img2img: `sampler_name` (or `sampler_index` when `sampler_name` is empty) — an exact `/samplers` name;
 *   aliases such as `k_euler_a` are refused like A1111 (which silently takes the first sampler) with the real name
 *   suggested; a combined name (`"DPM++ 2M Karras"`) is split; `scheduler` — a `/schedulers` name or label;
 *   `override_settings.sd_model_checkpoint` — a `/sd-models` alias (title `name.safetensors [hash]`, file name,
 *   model_name, base name, hash); `override_settings.sd_vae` — a `/sd-vae` model_name, `Automatic` or `None`;
 *   `refiner_checkpoint` (not `None`/`none`) — an alias or a part of exactly one title (A1111's closest match);
 *   `<lora:name:w>` / `<lyco:…>` tags in `prompt` and `negative_prompt` — a `/loras` name or alias (not with
 *   `disable_extra_networks: true`); each of `styles` — a `/prompt-styles` name; `script_name` — a `/scripts` name of
 *   the route's tab, any case. With `enable_hr: true` (txt2img) also `hr_sampler_name`, `hr_scheduler`,
 *   `hr_checkpoint_name` (`Use same checkpoint` allowed), `hr_upscaler` (`/upscalers` or `/latent-upscale-modes`)
 *   and the tags of `hr_prompt`/`hr_negative_prompt`.
 * - POST /options: `sd_model_checkpoint`, `sd_vae` as above.
 * - extra-single-image / extra-batch-images: `upscaler_1`, `upscaler_2` — `/upscalers` names or `None`.
 *
 * Only the lists a payload needs are fetched (then cached by `lists`). When a name is missing, its lists are
 * refreshed once (`lists.refresh`: `refresh-checkpoints`/`refresh-vae`/`refresh-loras` first where A1111 has them;
 * at most once per 30 s per list) and the name checked again. Lists A1111 does not serve (e.g. `/schedulers`
 * before 1.9) are skipped.
 *
 * @param route the resolved route; payloads of other routes are returned as they are
 * @param payload the validated payload (never mutated)
 * @returns the payload — the input object itself, or a shallow copy with the sampler field split into sampler +
 *   `scheduler` (the label, e.g. `Karras`, as A1111 sets it; only when the request has no `scheduler`; with one
 *   naming the same scheduler only the sampler field changes) — plus warnings (strict false) and changes made
 * @throws JobInputError (strict) with one line naming each offending field, the value, a "did you mean" and the
 *   valid names, e.g. `sampler_name: "DPM++ 2M Karas" is not an A1111 sampler (did you mean "DPM++ 2M" with
 *   scheduler "karras"?); valid: DPM++ 2M, DPM++ SDE, …`; several issues are joined with `; `
 * @throws A1111Error `unreachable` when A1111 cannot be reached for a list, `aborted` when `signal` aborts
 */
export async function checkNames(route: RouteSpec, payload: unknown, lists: A1111Lists, opts: NameCheckOptions): Promise<NameCheckResult> {
  const result: NameCheckResult = { payload, warnings: [], changes: [] };
  if (!isObject(payload)) return result;
  const { checks, issues } = collectChecks(route, payload);
  if (checks.length === 0 && issues.length === 0) return result;
  const { snaps, messages } = await runChecks(checks, lists, opts.signal);
  issues.push(...messages);

  const split = splitSampler(route, payload, snaps);
  if (split.issue) issues.push(split.issue);

  if (issues.length) {
    if (opts.strict) throw new JobInputError(issues.join('; '));
    result.warnings = issues;
  }
  if (split.payload) {
    result.payload = split.payload;
    result.changes.push(split.change!);
  }
  return result;
}
