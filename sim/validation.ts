/**
 * A small pydantic-v1 imitation for the request models of A1111's API
 * (spec §2.6, §2.7, §2.13): type coercion rules, defaults for unsent fields,
 * unknown fields ignored, and FastAPI's 422 `detail[]` issues on wrong types.
 */
import { validationError, type ValidationIssue } from './errors.js';

/** Field types understood by {@link validateModel} (pydantic v1 semantics). */
export type FieldType =
  | 'str'
  | 'int'
  | 'float'
  | 'bool'
  | 'dict'
  | 'list'
  | 'list[str]'
  | 'any'
  | { literal: number[] }
  | { listOf: FieldSpec[] }
  | { strLiteral: string[] };

/** One model field: name, type, default, and optional numeric constraints. */
export interface FieldSpec {
  name: string;
  type: FieldType;
  /** Value used when the field is absent; cloned for mutable values. */
  default?: unknown;
  /** No default: absence gives `field required` (pydantic `value_error.missing`). */
  required?: boolean;
  /** `Optional[...]`: `null` allowed. A1111's processing models make every field Optional. */
  nullable?: boolean;
  gt?: number;
  ge?: number;
  le?: number;
  /** `Field(title=...)`; absent: pydantic's default (`name.title()` with `_` → space) */
  title?: string;
  /** `Field(description=...)`, shown in `/openapi.json` */
  description?: string;
  /** for `{listOf}`: the nested model's name (`FileData`), a `$ref` in `/openapi.json` */
  model?: string;
}

/** Result of a successful validation: coerced values plus which fields were sent. */
export interface ValidatedModel {
  values: Record<string, unknown>;
  /** Names of fields present in the request (pydantic `__fields_set__`). */
  fieldsSet: Set<string>;
}

const PY_TRUE = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const PY_FALSE = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

function issue(loc: (string | number)[], msg: string, type: string, ctx?: Record<string, unknown>): ValidationIssue {
  return ctx ? { loc, msg, type, ctx } : { loc, msg, type };
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Python `int(v)` for a JSON value, or `undefined` when Python would raise. */
export function pyInt(v: unknown): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : undefined;
  if (typeof v === 'string') {
    const t = v.trim();
    if (!/^[+-]?\d+(_\d+)*$/.test(t)) return undefined;
    return Number(t.replace(/_/g, ''));
  }
  return undefined;
}

/** Python `float(v)` for a JSON value, or `undefined` when Python would raise. */
export function pyFloat(v: unknown): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (/^[+-]?(inf|infinity)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    if (/^[+-]?nan$/.test(t)) return NaN;
    if (!/^[+-]?((\d+(_\d+)*)?\.?\d+(_\d+)*|\d+(_\d+)*\.)(e[+-]?\d+)?$/.test(t)) return undefined;
    return Number(t.replace(/_/g, ''));
  }
  return undefined;
}

function validateValue(v: unknown, spec: FieldSpec, loc: (string | number)[], issues: ValidationIssue[]): unknown {
  if (v === null) {
    if (spec.nullable) return null;
    issues.push(issue(loc, 'none is not an allowed value', 'type_error.none.not_allowed'));
    return undefined;
  }
  const t = spec.type;
  let out: unknown;
  if (t === 'any') return v;
  if (t === 'str') {
    if (typeof v === 'string') out = v;
    else if (typeof v === 'boolean') out = v ? 'True' : 'False';
    else if (typeof v === 'number') out = Number.isInteger(v) ? String(v) : String(v);
    else {
      issues.push(issue(loc, 'str type expected', 'type_error.str'));
      return undefined;
    }
  } else if (t === 'int') {
    out = pyInt(v);
    if (out === undefined) {
      issues.push(issue(loc, 'value is not a valid integer', 'type_error.integer'));
      return undefined;
    }
  } else if (t === 'float') {
    out = pyFloat(v);
    if (out === undefined) {
      issues.push(issue(loc, 'value is not a valid float', 'type_error.float'));
      return undefined;
    }
  } else if (t === 'bool') {
    if (typeof v === 'boolean') out = v;
    else if (typeof v === 'number' && (v === 0 || v === 1)) out = v === 1;
    else if (typeof v === 'string' && PY_TRUE.has(v.toLowerCase())) out = true;
    else if (typeof v === 'string' && PY_FALSE.has(v.toLowerCase())) out = false;
    else {
      issues.push(issue(loc, 'value could not be parsed to a boolean', 'type_error.bool'));
      return undefined;
    }
  } else if (t === 'dict') {
    if (typeof v === 'object' && !Array.isArray(v)) out = v;
    else if (Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2)) {
      // pydantic v1 falls back to dict(v), which accepts a list of pairs.
      out = Object.fromEntries((v as unknown[][]).map(([k, val]) => [String(k), val]));
    } else {
      issues.push(issue(loc, 'value is not a valid dict', 'type_error.dict'));
      return undefined;
    }
  } else if (t === 'list' || t === 'list[str]') {
    if (!Array.isArray(v)) {
      issues.push(issue(loc, 'value is not a valid list', 'type_error.list'));
      return undefined;
    }
    if (t === 'list') return v;
    const before = issues.length;
    const items = v.map((item, i) => validateValue(item, { name: String(i), type: 'str' }, [...loc, i], issues));
    return issues.length === before ? items : undefined;
  } else if ('literal' in t) {
    if (typeof v === 'number' || typeof v === 'boolean') {
      const n = typeof v === 'boolean' ? (v ? 1 : 0) : v;
      if (t.literal.includes(n)) return n;
    }
    issues.push(
      issue(loc, `unexpected value; permitted: ${t.literal.join(', ')}`, 'value_error.const', {
        given: v,
        permitted: t.literal,
      }),
    );
    return undefined;
  } else if ('strLiteral' in t) {
    if (typeof v === 'string' && t.strLiteral.includes(v)) return v;
    issues.push(
      issue(loc, `unexpected value; permitted: ${t.strLiteral.map((x) => `'${x}'`).join(', ')}`, 'value_error.const', {
        given: v,
        permitted: t.strLiteral,
      }),
    );
    return undefined;
  } else if ('listOf' in t) {
    if (!Array.isArray(v)) {
      issues.push(issue(loc, 'value is not a valid list', 'type_error.list'));
      return undefined;
    }
    const before = issues.length;
    const items = v.map((item, i) => validateObject(item, t.listOf, [...loc, i], issues)?.values);
    return issues.length === before ? items : undefined;
  }
  if (typeof out === 'number') {
    if (spec.gt !== undefined && !(out > spec.gt)) {
      issues.push(issue(loc, `ensure this value is greater than ${spec.gt}`, 'value_error.number.not_gt', { limit_value: spec.gt }));
      return undefined;
    }
    if (spec.ge !== undefined && !(out >= spec.ge)) {
      issues.push(
        issue(loc, `ensure this value is greater than or equal to ${spec.ge}`, 'value_error.number.not_ge', { limit_value: spec.ge }),
      );
      return undefined;
    }
    if (spec.le !== undefined && !(out <= spec.le)) {
      issues.push(
        issue(loc, `ensure this value is less than or equal to ${spec.le}`, 'value_error.number.not_le', { limit_value: spec.le }),
      );
      return undefined;
    }
  }
  return out;
}

function validateObject(
  body: unknown,
  fields: FieldSpec[],
  loc: (string | number)[],
  issues: ValidationIssue[],
): ValidatedModel | undefined {
  if (body === null || body === undefined) {
    issues.push(issue(loc, 'field required', 'value_error.missing'));
    return undefined;
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    issues.push(issue(loc, 'value is not a valid dict', 'type_error.dict'));
    return undefined;
  }
  const src = body as Record<string, unknown>;
  const values: Record<string, unknown> = {};
  const fieldsSet = new Set<string>();
  const before = issues.length;
  for (const f of fields) {
    if (Object.prototype.hasOwnProperty.call(src, f.name)) {
      fieldsSet.add(f.name);
      values[f.name] = validateValue(src[f.name], f, [...loc, f.name], issues);
    } else if (f.required) {
      issues.push(issue([...loc, f.name], 'field required', 'value_error.missing'));
    } else {
      values[f.name] = clone(f.default ?? null);
    }
  }
  return issues.length === before ? { values, fieldsSet } : undefined;
}

/**
 * Validates a parsed JSON request body against a model (spec §2.6/§2.7/§2.13)
 * the way FastAPI + pydantic v1 would. Unknown keys are ignored.
 *
 * @param body parsed JSON body, or `undefined` when the request had no body
 * @returns coerced values (defaults filled) and the set of fields that were sent
 * @throws SimHttpError 422 `{"detail":[{loc:["body",...],msg,type}]}` on any issue
 */
export function validateModel(body: unknown, fields: FieldSpec[]): ValidatedModel {
  const issues: ValidationIssue[] = [];
  const res = validateObject(body, fields, ['body'], issues);
  if (!res || issues.length > 0) throw validationError(issues);
  return res;
}
