/**
 * "Did you mean" for names the worker checks (samplers, schedulers, checkpoints, LoRAs, scripts, settings…): the
 * closest known name to an unknown one, and the one-line list of valid names messages end with. Pure functions.
 *
 * Distances are Damerau-Levenshtein edit distances (package `damerau-levenshtein`: a transposition such as
 * `Eulre` → `Euler` counts as one edit).
 */
import levenshtein from 'damerau-levenshtein';
import type { SchedulerEntry } from '../../a1111/lists.js';
import { oneLineJson } from '../format.js';

/**
 * The Damerau-Levenshtein distance of two strings (insertions, deletions, substitutions and transpositions of
 * adjacent characters each count 1; UTF-16 units).
 */
export function nameDistance(a: string, b: string): number {
  return a === b ? 0 : levenshtein(a, b).steps;
}

/**
 * The known name closest to an unknown one: same name in another case or without `_`/`-` (`Prompt`, `cfgScale`),
 * else within 2 edits (1 for names of up to 4 characters), a transposition counting as one (`stpes` → `steps`).
 */
export function suggestField(unknown: string, known: Iterable<string>): string | undefined {
  if (unknown.length > 60) return undefined;
  const lower = unknown.toLowerCase();
  const loose = lower.replace(/[-_\s]/g, '');
  const list = [...known];
  const byCase = list.find((k) => k.toLowerCase() === lower);
  if (byCase) return byCase;
  const bySeparators = list.find((k) => k.toLowerCase().replace(/[-_\s]/g, '') === loose);
  if (bySeparators) return bySeparators;
  const limit = unknown.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of list) {
    if (Math.abs(k.length - unknown.length) > limit) continue;
    const d = nameDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

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
      const d = nameDistance(norm, f);
      if (d > limit || (best && d > best.score)) return;
      // Equally near once normalised: the nearer as written wins ("R-ESRGAN 4x" → "R-ESRGAN 4x+", not "ESRGAN_4x").
      const raw = nameDistance(lower, spellings[i]![j]!.toLowerCase());
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
 * A1111's split of a combined sampler name (`modules/sd_samplers.py` `get_sampler_and_scheduler`): for each scheduler in list
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

/** Schedulers as suggestion candidates: the name, with the label and aliases as other spellings. */
export function schedulerCandidates(schedulers: readonly SchedulerEntry[]): NameCandidate[] {
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
