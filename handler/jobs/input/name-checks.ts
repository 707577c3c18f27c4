/**
 * The single-name checks of names.ts, each against A1111's live lists (handler/a1111/lists.ts), and the runner that
 * fetches the lists they need, refreshes them once on a miss and collects the messages.
 *
 * A check is "hard" when A1111 fails or certainly misbehaves on an unknown value (sampler, scheduler, checkpoint,
 * VAE, upscaler, scripts: the job is refused whatever `STRICT_NAMES` says) and "soft" when A1111 silently ignores it
 * (a prompt style, a `<lora:…>` tag: a warning, refused only with `STRICT_NAMES=true`).
 */
import type { A1111Lists, CheckpointEntry, ListName, ListSnapshot } from '../../a1111/lists.js';
import { plural, showValue } from '../format.js';
import { closestName, formatNameList, schedulerCandidates, splitCombinedSampler, suggestSampler, type NameCandidate } from './name-suggest.js';

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
  // Most prompts have no tag: no regular expression to run (its compiled code may have been flushed since the last job).
  if (!prompt.includes('<')) return out;
  for (const m of prompt.matchAll(/<([\p{L}\p{N}_]+):([^>]+)>/gu)) {
    out.push({ tag: m[0], type: m[1]!, name: m[2]!.split(':')[0]! });
  }
  return out;
}


/** The snapshots of the lists a set of checks uses. */
export type Lists = { [L in ListName]?: ListSnapshot<L> };

/**
 * What one check concluded: ok, or a message; `miss` when the value may be found after a refresh of the check's
 * lists, false when it is wrong whatever the lists say (no refresh).
 */
export type Verdict = { ok: true } | { ok: false; miss: boolean; message: string };

/** One check of one value. */
export interface Check {
  /** The lists the check needs; it is skipped when one of them is unavailable. */
  lists: readonly ListName[];
  /** Lists it uses when A1111 serves them (`run` must look at `available`). */
  optional?: readonly ListName[];
  /** True when A1111 silently ignores a value that fails the check (styles, LoRA tags): a warning unless strict. */
  soft?: boolean;
  /** Evaluates the value against the lists. */
  run(lists: Required<Lists>): Verdict;
}

function listsOf(c: Check): ListName[] {
  return [...c.lists, ...(c.optional ?? [])];
}

export const OK: Verdict = { ok: true };

/** A non-empty string field of an object (own property), else undefined. */
export function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const v = Object.hasOwn(obj, key) ? obj[key] : undefined;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** `path: subject is not noun (did you mean …?); valid: a, b, …` */
export function unknownName(path: string, subject: string, noun: string, suggestion: string | undefined, valid: readonly string[]): string {
  const mean = suggestion ? ` (did you mean ${suggestion}?)` : '';
  return `${path}: ${subject} is not ${noun}${mean}; valid: ${formatNameList(valid)}`;
}

/** A verdict "not found" (refresh the lists and try again). */
export function miss(message: string): Verdict {
  return { ok: false, miss: true, message };
}

/** Special values of `sd_vae` besides the VAE files (A1111's `sd_vae_items`). */
const VAE_SPECIAL = ['Automatic', 'None'];
/** `refiner_checkpoint` values meaning "no refiner" (A1111 `process_images`). */
export const NO_REFINER = new Set(['None', 'none']);
/** The UI's "same as the first pass" choices, which the API does not translate (A1111 `txt2img.py` does). */
const UI_SAME = { hr_sampler_name: 'Use same sampler', hr_scheduler: 'Use same scheduler' } as const;

/**
 * `sampler_name`/`sampler_index` (`scheduler` field) or `hr_sampler_name` (`hr_scheduler`): an exact `/samplers`
 * name; for the first pass also a combined 1.9+ name whose parts exist (A1111 splits it itself: `modules/sd_samplers.py` `get_sampler_and_scheduler`); the
 * hires pass fails on a combined name (A1111 `create_sampler`).
 */
export function samplerCheck(path: string, value: string, schedulerField: 'scheduler' | 'hr_scheduler'): Check {
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
        return OK; // A1111 1.9+ splits it (a contradicting `scheduler` is refused by names.ts)
      }
      return miss(unknownName(path, showValue(value), 'an A1111 sampler', suggestSampler(value, samplers.entries, sch, schedulerField), samplers.shown));
    },
  };
}

/** `scheduler`, `hr_scheduler`: a `/schedulers` name or label (A1111 `schedulers_map`). */
export function schedulerCheck(path: string, value: string): Check {
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

/** `override_settings.sd_model_checkpoint`, POST /options `sd_model_checkpoint`: an exact `checkpoint_aliases` key (`modules/sd_models.py`). */
export function checkpointCheck(path: string, value: string): Check {
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
export function closestCheckpointCheck(path: string, value: string): Check {
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

/** `sd_vae`: a `/sd-vae` model_name, `Automatic` or `None` (A1111 `sd_vae_items`). */
export function vaeCheck(path: string, value: string): Check {
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

/** `hr_upscaler`: a `/upscalers` name or a latent upscale mode. */
export function hrUpscalerCheck(path: string, value: string): Check {
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

/** `upscaler_1`, `upscaler_2`: a `/upscalers` name or `None`. */
export function upscalerCheck(path: string, value: string): Check {
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

/** A `<lora:name:…>` tag: a `/loras` name or alias. Soft: A1111 ignores a LoRA it cannot find. */
export function loraCheck(path: string, tag: PromptNetworkTag): Check {
  return {
    lists: ['loras'],
    soft: true,
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

/** One of `styles`: a `/prompt-styles` name. Soft: A1111 ignores a style it does not have. */
export function styleCheck(path: string, value: string): Check {
  return {
    lists: ['prompt-styles'],
    soft: true,
    run: ({ 'prompt-styles': styles }) => {
      if (styles.names.has(value)) return OK;
      const s = closestName(value, styles.shown);
      return miss(unknownName(path, showValue(value), 'an A1111 prompt style', s && JSON.stringify(s.name), styles.shown));
    },
  };
}

/** Issues found without any list (a mistyped extra-network type in a prompt). */
export function tagTypeIssue(path: string, tag: PromptNetworkTag): string | undefined {
  const lower = tag.type.toLowerCase();
  if ((lower === 'lora' || lower === 'lyco') && tag.type !== lower) {
    return `${path}: ${showValue(tag.tag)} is not an A1111 extra network (types are case-sensitive: did you mean <${lower}:…>?)`;
  }
  return undefined;
}

/** One failed check: its one-line message, and whether A1111 would silently ignore the value (soft). */
export interface NameIssue {
  message: string;
  soft: boolean;
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
 * Runs checks against the lists they need; a miss refreshes its lists once (names.ts `checkNames`) and runs
 * every check again. Returns the lists used and one issue per failed check, with whether it is soft.
 */
export async function runChecks(checks: readonly Check[], lists: A1111Lists, signal: AbortSignal | undefined): Promise<{ snaps: Lists; issues: NameIssue[] }> {
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
  const issues: NameIssue[] = [];
  verdicts.forEach((v, i) => {
    if (v && !v.ok) issues.push({ message: v.message, soft: checks[i]!.soft === true });
  });
  return { snaps, issues };
}

