/**
 * The A1111 wildcards extension (AUTOMATIC1111/stable-diffusion-webui-wildcards `scripts/wildcards.py`, commit
 * `d3964a7`): always-on script `Simple wildcards` (no `ui()` args) whose `process` rewrites every generation's
 * `all_prompts`/`all_negative_prompts`, and its two settings (`on_ui_settings`).
 *
 * A fresh install has no wildcard files (the repository's `wildcards/` holds only `put wildcards here.txt`), so the
 * simulator has none: `replace_prompts` splits each prompt on `__`, keeps every chunk (a chunk with a space, an
 * empty one, or one whose `<name>.txt` is missing comes back unchanged) and joins them with `""` — the `__` marks
 * vanish (`a __color__ cat` → `a color cat`). When the first prompt changed and `wildcards_write_infotext` is on,
 * the original goes to the infotext as `Wildcard prompt` / `Wildcard negative prompt`.
 */
import type { PyValue } from '../pyjson.js';

/** The extension's settings with their defaults (`shared.opts.add_option` in `on_ui_settings`). */
export const WILDCARDS_OPTIONS = { wildcards_same_seed: false, wildcards_write_infotext: true };

/** `WildcardsScript.replace_prompts` without wildcard files: `"".join(text.split("__"))`. */
export function replaceWildcards(text: string): string {
  return text.split('__').join('');
}

/**
 * `WildcardsScript.process` on the prompts of one generation (rewritten in place).
 *
 * @returns the infotext entries it adds (`Wildcard prompt`, `Wildcard negative prompt`)
 */
export function applyWildcards(options: Record<string, unknown>, prompts: string[], negatives: string[]): [string, PyValue][] {
  const out: [string, PyValue][] = [];
  for (const [list, label] of [
    [prompts, 'Wildcard prompt'],
    [negatives, 'Wildcard negative prompt'],
  ] as const) {
    const original = list[0];
    for (let i = 0; i < list.length; i++) list[i] = replaceWildcards(list[i]);
    if (list.length > 0 && options['wildcards_write_infotext'] && original !== list[0]) out.push([label, original]);
  }
  return out;
}
