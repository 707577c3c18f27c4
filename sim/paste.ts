/**
 * Request-side text handling shared by txt2img and img2img: A1111's
 * `Api.apply_infotext` (the `infotext` field fills fields not sent,
 * `modules/api/api.py`) and prompt styles (`modules/styles.py`).
 */
import type { SimEnv } from './env.js';
import { pyException } from './errors.js';
import { parseGenerationParameters, type InfotextValue } from './infotext.js';
import { pyFloat, pyInt } from './validation.js';

type Tab = 'txt2img' | 'img2img';

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

const PASTE_FIELDS: { label: string; field: string; type: 'str' | 'int' | 'float'; tabs: Tab[] }[] = [
  { label: 'Prompt', field: 'prompt', type: 'str', tabs: ['txt2img', 'img2img'] },
  { label: 'Negative prompt', field: 'negative_prompt', type: 'str', tabs: ['txt2img', 'img2img'] },
  { label: 'Steps', field: 'steps', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Sampler', field: 'sampler_name', type: 'str', tabs: ['txt2img', 'img2img'] },
  { label: 'Schedule type', field: 'scheduler', type: 'str', tabs: ['txt2img', 'img2img'] },
  { label: 'CFG scale', field: 'cfg_scale', type: 'float', tabs: ['txt2img', 'img2img'] },
  { label: 'Seed', field: 'seed', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Size-1', field: 'width', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Size-2', field: 'height', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Variation seed', field: 'subseed', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Variation seed strength', field: 'subseed_strength', type: 'float', tabs: ['txt2img', 'img2img'] },
  { label: 'Seed resize from-1', field: 'seed_resize_from_w', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Seed resize from-2', field: 'seed_resize_from_h', type: 'int', tabs: ['txt2img', 'img2img'] },
  { label: 'Denoising strength', field: 'denoising_strength', type: 'float', tabs: ['txt2img', 'img2img'] },
  { label: 'Hires upscale', field: 'hr_scale', type: 'float', tabs: ['txt2img'] },
  { label: 'Hires upscaler', field: 'hr_upscaler', type: 'str', tabs: ['txt2img'] },
  { label: 'Hires steps', field: 'hr_second_pass_steps', type: 'int', tabs: ['txt2img'] },
  { label: 'Hires resize-1', field: 'hr_resize_x', type: 'int', tabs: ['txt2img'] },
  { label: 'Hires resize-2', field: 'hr_resize_y', type: 'int', tabs: ['txt2img'] },
  { label: 'Hires prompt', field: 'hr_prompt', type: 'str', tabs: ['txt2img'] },
  { label: 'Hires negative prompt', field: 'hr_negative_prompt', type: 'str', tabs: ['txt2img'] },
];

function convertPasted(v: InfotextValue, type: 'str' | 'int' | 'float'): unknown {
  if (type === 'str') return typeof v === 'string' ? v : String(v);
  if (type === 'int') {
    const n = pyInt(v);
    if (n === undefined) throw pyException('ValueError', `invalid literal for int() with base 10: '${String(v)}'`);
    return n;
  }
  const f = pyFloat(v);
  if (f === undefined) throw pyException('ValueError', `could not convert string to float: '${String(v)}'`);
  return f;
}

/**
 * `Api.apply_infotext`: fields named in the `infotext` string fill the
 * request fields that were not sent explicitly; `Clip skip` becomes an
 * override setting.
 */
export function applyInfotext(env: SimEnv, req: Record<string, unknown>, fieldsSet: Set<string>, tab: Tab): void {
  const text = str(req['infotext']);
  if (!text) return;
  const params = parseGenerationParameters(text);
  for (const f of PASTE_FIELDS) {
    if (!f.tabs.includes(tab) || fieldsSet.has(f.field)) continue;
    const v = params[f.label];
    if (v === undefined) continue;
    req[f.field] = convertPasted(v, f.type);
  }
  if (tab === 'txt2img' && !fieldsSet.has('enable_hr')) {
    const hr = 'Denoising strength' in params && ('Hires upscale' in params || 'Hires upscaler' in params || 'Hires resize-1' in params && params['Hires resize-1'] !== 0);
    if (hr) req['enable_hr'] = true;
  }
  const ov = (req['override_settings'] as Record<string, unknown> | null) ?? {};
  req['override_settings'] = ov;
  const clip = pyInt(params['Clip skip']);
  if (clip !== undefined && clip !== env.catalog.options['CLIP_stop_at_last_layers'] && !('CLIP_stop_at_last_layers' in ov)) {
    ov['CLIP_stop_at_last_layers'] = clip;
  }
}

/**
 * A1111's `merge_prompts` (modules/styles.py): a style text with `{prompt}` takes the prompt in that place; any
 * other is joined after it with `, ` (empty parts left out).
 */
function mergePrompt(style: string, prompt: string): string {
  if (style.includes('{prompt}')) return style.replace('{prompt}', prompt);
  return [prompt.trim(), style.trim()].filter((x) => x !== '').join(', ');
}

/**
 * A1111's `apply_styles_to_prompt` / `apply_negative_styles_to_prompt`: each named style (in the request's order;
 * unknown names ignored) merged into the prompt and the negative prompt.
 */
export function applyStyles(
  known: ReadonlyArray<{ name: string; prompt: string; negative_prompt: string }>,
  names: readonly string[],
  prompt: string,
  negative: string,
): { prompt: string; negative: string } {
  let pos = prompt;
  let neg = negative;
  for (const name of names) {
    const st = known.find((k) => k.name === name);
    if (!st) continue;
    pos = mergePrompt(st.prompt, pos);
    neg = mergePrompt(st.negative_prompt, neg);
  }
  return { prompt: pos, negative: neg };
}
