/**
 * The PNG "infotext" (docs/a1111-api.md, "PNG infotext format"): creating it (`processing.create_infotext`) and
 * parsing it back (`infotext_utils.parse_generation_parameters`, used by
 * `POST /sdapi/v1/png-info`).
 */
import { pyStr } from './pyjson.js';

/**
 * `infotext_utils.quote`: a value containing `,`, `:` or a newline is written as
 * a JSON string (non-ASCII kept as is); anything else as `str(value)`.
 */
export function quoteInfoValue(v: unknown): string {
  const s = pyStr(v);
  if (!s.includes(',') && !s.includes('\n') && !s.includes(':')) return s;
  return JSON.stringify(s);
}

/**
 * Builds an infotext (docs/a1111-api.md, "PNG infotext format"):
 * `<prompt>[\nNegative prompt: <neg>]\n<k: v, k: v, ...>`, stripped. Entries
 * whose value is `null`/`undefined` are omitted; an entry whose value equals its
 * key is written as the bare key.
 *
 * @param params ordered key/value pairs; values are formatted with Python `str()`
 */
export function createInfotext(prompt: string, negativePrompt: string, params: [string, unknown][]): string {
  const text = params
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => (k === v ? k : `${k}: ${quoteInfoValue(v)}`))
    .join(', ');
  const neg = negativePrompt ? `\nNegative prompt: ${negativePrompt}` : '';
  return `${prompt}${neg}\n${text}`.trim();
}

/** A parsed infotext value: strings as written, plus the numeric/boolean defaults A1111 adds. */
export type InfotextValue = string | number | boolean;

// A1111's re_param: \s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)  (Python's \w is Unicode-aware)
const RE_PARAM = /\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/gu;
const RE_IMAGESIZE = /^(\d+)x(\d+)$/;

function findParams(line: string): [string, string][] {
  const out: [string, string][] = [];
  RE_PARAM.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = RE_PARAM.exec(line)) !== null) {
    if (m[0].length === 0) {
      RE_PARAM.lastIndex++;
      continue;
    }
    out.push([m[1], m[2]]);
  }
  return out;
}

function pyStrip(s: string): string {
  return s.replace(/^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/gu, '');
}

/**
 * Parses an infotext into the dict A1111's `parse_generation_parameters`
 * returns (docs/a1111-api.md, "PNG infotext format", "Extras (upscale), interrogate, png-info"): `Prompt`, `Negative prompt`, every `Key: value`
 * of the last line as strings (`Steps: 30` → `"Steps": "30"`, `Size: 512x768` →
 * `"Size-1": "512", "Size-2": "768"`, JSON-quoted values unquoted), plus the
 * defaults A1111 adds for missing keys (`Clip skip: "1"`, `RNG: "GPU"`,
 * `Schedule type: "Automatic"`, hires/inpaint defaults, ...).
 */
export function parseGenerationParameters(x: string): Record<string, InfotextValue> {
  const res: Record<string, InfotextValue> = {};
  let prompt = '';
  let negativePrompt = '';
  let doneWithPrompt = false;

  const all = pyStrip(x).split('\n');
  let lastline = all.pop() ?? '';
  const lines = all;
  if (findParams(lastline).length < 3) {
    lines.push(lastline);
    lastline = '';
  }
  for (let line of lines) {
    line = pyStrip(line);
    if (line.startsWith('Negative prompt:')) {
      doneWithPrompt = true;
      line = pyStrip(line.slice(16));
    }
    if (doneWithPrompt) negativePrompt += (negativePrompt === '' ? '' : '\n') + line;
    else prompt += (prompt === '' ? '' : '\n') + line;
  }
  for (const [k, rawV] of findParams(lastline)) {
    let v = rawV;
    if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') {
      try {
        const u: unknown = JSON.parse(v);
        v = typeof u === 'string' ? u : String(u);
      } catch {
        // A1111 logs 'Error parsing' and keeps going without this key
        continue;
      }
    }
    const m = RE_IMAGESIZE.exec(v);
    if (m) {
      res[`${k}-1`] = m[1];
      res[`${k}-2`] = m[2];
    } else {
      res[k] = v;
    }
  }

  res['Prompt'] = prompt;
  res['Negative prompt'] = negativePrompt;
  const defaults: [string, InfotextValue][] = [
    ['Clip skip', '1'],
    ['Hires resize-1', 0],
    ['Hires resize-2', 0],
    ['Hires sampler', 'Use same sampler'],
    ['Hires schedule type', 'Use same scheduler'],
    ['Hires checkpoint', 'Use same checkpoint'],
    ['Hires prompt', ''],
    ['Hires negative prompt', ''],
    ['Mask mode', 'Inpaint masked'],
    ['Masked content', 'original'],
    ['Inpaint area', 'Whole picture'],
    ['Masked area padding', 32],
    ['RNG', 'GPU'],
    ['Schedule type', 'Automatic'],
    ['Schedule max sigma', 0],
    ['Schedule min sigma', 0],
    ['Schedule rho', 0],
    ['VAE Encoder', 'Full'],
    ['VAE Decoder', 'Full'],
    ['FP8 weight', 'Disable'],
  ];
  for (const [k, v] of defaults) if (!(k in res)) res[k] = v;
  if (!('Cache FP16 weight for LoRA' in res) && res['FP8 weight'] !== 'Disable') res['Cache FP16 weight for LoRA'] = false;
  if (!('Emphasis' in res) && /\([^)]*\)|\[[^\]]*\]/.test(prompt)) res['Emphasis'] = 'Original';
  if (!('refiner_switch_by_sample_steps' in res)) res['refiner_switch_by_sample_steps'] = false;
  return res;
}
