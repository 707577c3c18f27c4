/**
 * A payload checked against the server's request model (handler/a1111/server-model.ts), as A1111's pydantic would
 * read it: values of the field's kind or coercible to it (pydantic.ts), `null` only where the model accepts it and
 * A1111 does not then fail, the model's constraints (`ge`/`le`/`gt`, `Literal`), required fields, and fields the
 * model does not have — which A1111 silently ignores, hiding typos such as `stpes` — refused with "did you mean"
 * (`UNKNOWN_FIELDS=refuse`, the default) or let through with a warning (`UNKNOWN_FIELDS=warn`).
 *
 * Nothing is changed: the result is a coerced *view* of the payload for the worker's own computations (the caps).
 */
import type { ModelField, RequestModel } from '../../a1111/server-model.js';
import { appendIndex, appendKey, isObject, showValue } from '../format.js';
import type { IssueList } from './issues.js';
import { suggestField } from './name-suggest.js';
import { coerce } from './pydantic.js';

/** What to do with fields the server's model does not have (`UNKNOWN_FIELDS`). */
export type UnknownFieldsPolicy = 'refuse' | 'warn';

/** Options of {@link checkAgainstModel}. */
export interface ModelCheckOptions {
  unknownFields: UnknownFieldsPolicy;
  /** The server's pydantic major version (server-model.ts `ServerModel.pydantic`). */
  pydantic: 1 | 2;
  /** The model of the other generation route, for "only img2img takes it" (txt2img ↔ img2img). */
  sibling?: { route: string; model: RequestModel };
  /** True for txt2img/img2img: names of other Stable Diffusion APIs get a hint. */
  generation: boolean;
  /** True when the server is not Forge: Forge-only fields are named as such. */
  notForge: boolean;
}

/** Field names other Stable Diffusion APIs use, with the A1111 field (or advice) to use instead. */
const GENERATION_HINTS: Readonly<Record<string, string>> = {
  num_inference_steps: 'did you mean "steps"?',
  guidance_scale: 'did you mean "cfg_scale"?',
  sampler: 'did you mean "sampler_name"?',
  num_images: 'did you mean "batch_size"?',
  model: 'choose the checkpoint with override_settings.sd_model_checkpoint',
  checkpoint: 'choose the checkpoint with override_settings.sd_model_checkpoint',
  lora: 'add LoRAs to the prompt as <lora:name:weight>',
  loras: 'add LoRAs to the prompt as <lora:name:weight>',
};

/** Request fields only Forge's models have (its `modules/processing.py`, Flux). */
const FORGE_ONLY: ReadonlySet<string> = new Set(['distilled_cfg_scale', 'hr_cfg', 'hr_distilled_cfg', 'hr_additional_modules']);

function unknownReason(key: string, model: RequestModel, opts: ModelCheckOptions, atTop: boolean): string {
  if (atTop && opts.sibling?.model.fields.has(key)) return `unknown field (only ${opts.sibling.route} takes it)`;
  if (atTop && opts.notForge && FORGE_ONLY.has(key)) return `unknown field: Forge takes it, but this server's ${model.name} has no such field`;
  const near = suggestField(key, model.fields.keys());
  if (near) return `unknown field (did you mean ${JSON.stringify(near)}?)`;
  if (atTop && opts.generation && Object.hasOwn(GENERATION_HINTS, key)) return `unknown field (${GENERATION_HINTS[key]})`;
  return `unknown field of ${model.name}`;
}

/** The default for messages: `its default 50`, `its default (none)`. */
function defaultText(f: ModelField): string {
  if (!f.hasDefault || f.default === null) return 'for A1111\'s default';
  return `for its default ${showValue(f.default)}`;
}

function constraintReason(f: ModelField, raw: unknown, value: unknown): string | undefined {
  if (f.enum && !f.enum.some((e) => e === raw || (typeof raw === 'boolean' && e === (raw ? 1 : 0)))) {
    return `must be one of ${f.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  }
  if (typeof value !== 'number') return undefined;
  if (f.minimum !== undefined && !(value >= f.minimum)) return `must be >= ${f.minimum}`;
  if (f.maximum !== undefined && !(value <= f.maximum)) return `must be <= ${f.maximum}`;
  if (f.exclusiveMinimum !== undefined && !(value > f.exclusiveMinimum)) return `must be > ${f.exclusiveMinimum}`;
  if (f.exclusiveMaximum !== undefined && !(value < f.exclusiveMaximum)) return `must be < ${f.exclusiveMaximum}`;
  return undefined;
}

/** Checks one field's value; returns the coerced value (or the raw one when refused). */
function checkValue(f: ModelField, path: string, raw: unknown, opts: ModelCheckOptions, issues: IssueList): unknown {
  if (raw === null) {
    if (!f.nullable) {
      issues.add(path, null, `null is not accepted by A1111 (422: the field is not Optional); omit the field ${defaultText(f)}`, false);
    } else if (f.nullFails) {
      issues.add(path, null, `null is not accepted by A1111 (it would fail with a 500: ${f.nullFails}); omit the field ${defaultText(f)}`, false);
    }
    return null;
  }
  const c = coerce(f.kind, raw, opts.pydantic, f.items);
  if (!c.ok) {
    issues.add(path, raw, c.reason);
    return raw;
  }
  const why = constraintReason(f, raw, c.value);
  if (why) issues.add(path, raw, why);
  if (f.itemFields && Array.isArray(raw)) {
    raw.forEach((item, i) => {
      const itemPath = appendIndex(path, i);
      if (!isObject(item)) {
        issues.add(itemPath, item, 'must be an object');
        return;
      }
      checkFields({ name: `${f.name} item`, fields: f.itemFields! }, item, itemPath, { ...opts, sibling: undefined, generation: false }, issues, []);
    });
  }
  return c.value;
}

function checkFields(model: RequestModel, payload: Readonly<Record<string, unknown>>, base: string, opts: ModelCheckOptions, issues: IssueList, warnings: string[]): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const key of Object.keys(payload)) {
    const path = appendKey(base, key);
    const f = model.fields.get(key);
    if (!f) {
      const reason = unknownReason(key, model, opts, base === '');
      if (opts.unknownFields === 'refuse') issues.add(path, undefined, reason, false);
      else warnings.push(`${path}: ${reason}; passed on (UNKNOWN_FIELDS=warn), A1111 ignores it`);
      continue;
    }
    view[key] = checkValue(f, path, payload[key], opts, issues);
  }
  for (const f of model.fields.values()) {
    if (f.required && !Object.hasOwn(payload, f.name)) issues.add(appendKey(base, f.name), undefined, 'is required', false);
  }
  return view;
}

/**
 * Checks a payload object against a request model, adding one issue per offending field to `issues` and one line per
 * unknown field passed on to `warnings` (with `unknownFields: 'warn'`).
 * @returns the coerced view: each known field as pydantic would read it (`"123"` → 123 for an `int`), for the caps
 */
export function checkAgainstModel(model: RequestModel, payload: Readonly<Record<string, unknown>>, opts: ModelCheckOptions, issues: IssueList, warnings: string[]): Record<string, unknown> {
  return checkFields(model, payload, '', opts, issues, warnings);
}
