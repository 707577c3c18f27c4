/**
 * The job request the form describes: the worker's envelope `{"input": {"api": {"method", "endpoint"}, "payload",
 * "preview"}}` (docs/request-model.md). Fields left empty are not sent, so A1111's own defaults apply.
 */

/** The routes the playground offers. */
export type RouteName = 'txt2img' | 'img2img' | 'interrogate';

/** The form's values, as read from the page (numbers as typed: strings). */
export interface FormValues {
  route: RouteName;
  prompt: string;
  negative_prompt: string;
  width: string;
  height: string;
  steps: string;
  cfg_scale: string;
  seed: string;
  sampler_name: string;
  scheduler: string;
  /** A checkpoint title, '' = the one loaded. */
  checkpoint: string;
  denoising_strength: string;
  /** The interrogate model: `clip` or `deepdanbooru`. */
  model: string;
  /** The uploaded image as base64 (no `data:` prefix), '' when none. */
  image: string;
  /** Stream live previews (`"preview": true`). */
  preview: boolean;
}

/** The body of `/run`. */
export interface JobRequest {
  input: { api: { method: 'POST'; endpoint: string }; payload: Record<string, unknown>; preview?: boolean };
}

/**
 * A number field: a number when it reads as one, else the text as typed (the worker then refuses it and names the
 * field, which the page highlights), and nothing when empty.
 */
function numberField(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/** Sets `payload[key]` unless `value` is undefined or ''. */
function put(payload: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined && value !== '') payload[key] = value;
}

/** The `/run` body for the form's values. */
export function buildRequest(v: FormValues): JobRequest {
  const payload: Record<string, unknown> = {};
  if (v.route === 'interrogate') {
    put(payload, 'image', v.image);
    put(payload, 'model', v.model);
    return { input: { api: { method: 'POST', endpoint: '/sdapi/v1/interrogate' }, payload } };
  }
  if (v.route === 'img2img') put(payload, 'init_images', v.image === '' ? undefined : [v.image]);
  put(payload, 'prompt', v.prompt);
  put(payload, 'negative_prompt', v.negative_prompt);
  for (const key of ['width', 'height', 'steps', 'cfg_scale', 'seed'] as const) put(payload, key, numberField(v[key]));
  if (v.route === 'img2img') put(payload, 'denoising_strength', numberField(v.denoising_strength));
  put(payload, 'sampler_name', v.sampler_name.trim());
  put(payload, 'scheduler', v.scheduler.trim());
  if (v.checkpoint !== '') payload.override_settings = { sd_model_checkpoint: v.checkpoint };
  return { input: { api: { method: 'POST', endpoint: `/sdapi/v1/${v.route}` }, payload, ...(v.preview ? { preview: true } : {}) } };
}

/**
 * The payload fields a worker's refusal may name, each with the id of the form control that holds it. Refusals
 * start with or contain `<field>: ` (or `<field>[i]: `, or `<field> × ` in the pixel cap's product), as
 * handler/jobs/input/issues.ts renders them.
 */
const FIELD_CONTROLS: readonly [string, string][] = [
  ['prompt', 'prompt'],
  ['negative_prompt', 'negative_prompt'],
  ['width', 'width'],
  ['height', 'height'],
  ['steps', 'steps'],
  ['cfg_scale', 'cfg_scale'],
  ['seed', 'seed'],
  ['sampler_name', 'sampler_name'],
  ['sampler_index', 'sampler_name'],
  ['scheduler', 'scheduler'],
  ['override_settings.sd_model_checkpoint', 'checkpoint'],
  ['denoising_strength', 'denoising_strength'],
  ['init_images', 'image'],
  ['image', 'image'],
  ['model', 'model'],
  ['input.preview', 'preview'],
];

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The ids of the form controls whose fields an error message names, in form order, without repeats. */
export function fieldsNamedIn(message: string): string[] {
  const ids = new Set<string>();
  for (const [field, id] of FIELD_CONTROLS) {
    // Preceded by the start, a space, ";" or "(", so that "steps" does not match "hr_second_pass_steps".
    const re = new RegExp(`(?:^|[\\s;(])(?:payload\\.)?${escapeRe(field)}(?:\\[\\d+\\])?(?::|\\s×)`);
    if (re.test(message)) ids.add(id);
  }
  return [...ids];
}

/** A FAILED job's `error` as text: a string as is, runpod-python's `{"error_message"}` JSON reduced to its message. */
export function errorText(error: unknown): string {
  let e = error;
  if (typeof e === 'string') {
    try {
      e = JSON.parse(e);
    } catch {
      return e as string;
    }
  }
  if (e !== null && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    if (typeof o.error_message === 'string') return typeof o.error_type === 'string' ? `${o.error_type}: ${o.error_message}` : o.error_message;
    if (typeof o.message === 'string') return o.message;
  }
  return typeof e === 'string' ? e : JSON.stringify(e);
}
