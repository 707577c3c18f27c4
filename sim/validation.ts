/**
 * A small pydantic-v1 imitation for the request models of A1111's API (`modules/api/models.py`): type coercion
 * rules, defaults for unsent fields, unknown fields ignored, and FastAPI's 422 `detail[]` issues on wrong types.
 * The field walk (`walkFields`) is shared with the pydantic-2 imitation of `pydantic2.ts`.
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

/** Strings pydantic (1 and 2) reads as `True` / `False` for a `bool` field (lower case). */
export const PY_TRUE = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
export const PY_FALSE = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

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
    const items = v.map((item, i) => walkFields(item, t.listOf, [...loc, i], issues, PYDANTIC1)?.values);
    return issues.length === before ? items : undefined;
  }
  if (typeof out === 'number') {
    const broken = brokenLimit(spec, out);
    if (broken) {
      const words = { gt: 'greater than', ge: 'greater than or equal to', le: 'less than or equal to' }[broken.key];
      issues.push(issue(loc, `ensure this value is ${words} ${broken.limit}`, `value_error.number.not_${broken.key}`, { limit_value: broken.limit }));
      return undefined;
    }
  }
  return out;
}

/** How one pydantic version reports the issues of a model: the value check and the three structural issues. */
export interface ModelDialect<I> {
  value(v: unknown, spec: FieldSpec, loc: (string | number)[], issues: I[]): unknown;
  /** the model (body or nested item) is `None` / absent */
  missingModel(loc: (string | number)[]): I;
  /** the model is not an object */
  notObject(loc: (string | number)[], input: unknown): I;
  /** a required field is absent (`input`: the model) */
  missingField(loc: (string | number)[], input: unknown): I;
}

/** The first numeric constraint of `spec` that `n` breaks (checked in the order gt, ge, le), or null. */
export function brokenLimit(spec: FieldSpec, n: number): { key: 'gt' | 'ge' | 'le'; limit: number } | null {
  if (spec.gt !== undefined && !(n > spec.gt)) return { key: 'gt', limit: spec.gt };
  if (spec.ge !== undefined && !(n >= spec.ge)) return { key: 'ge', limit: spec.ge };
  if (spec.le !== undefined && !(n <= spec.le)) return { key: 'le', limit: spec.le };
  return null;
}

/**
 * Walks a model's fields as pydantic does: sent fields are checked (and recorded in `fieldsSet`), absent required
 * fields are issues, absent optional ones get a copy of their default; unknown keys are ignored.
 * @returns the values, or undefined when an issue was added
 */
export function walkFields<I>(body: unknown, fields: FieldSpec[], loc: (string | number)[], issues: I[], d: ModelDialect<I>): ValidatedModel | undefined {
  if (body === null || body === undefined) {
    issues.push(d.missingModel(loc));
    return undefined;
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    issues.push(d.notObject(loc, body));
    return undefined;
  }
  const src = body as Record<string, unknown>;
  const values: Record<string, unknown> = {};
  const fieldsSet = new Set<string>();
  const before = issues.length;
  for (const f of fields) {
    if (Object.prototype.hasOwnProperty.call(src, f.name)) {
      fieldsSet.add(f.name);
      values[f.name] = d.value(src[f.name], f, [...loc, f.name], issues);
    } else if (f.required) {
      issues.push(d.missingField([...loc, f.name], body));
    } else {
      values[f.name] = clone(f.default ?? null);
    }
  }
  return issues.length === before ? { values, fieldsSet } : undefined;
}

const PYDANTIC1: ModelDialect<ValidationIssue> = {
  value: (v, spec, loc, issues) => validateValue(v, spec, loc, issues),
  missingModel: (loc) => issue(loc, 'field required', 'value_error.missing'),
  notObject: (loc) => issue(loc, 'value is not a valid dict', 'type_error.dict'),
  missingField: (loc) => issue(loc, 'field required', 'value_error.missing'),
};

/**
 * Validates a parsed JSON request body against a model the way FastAPI + pydantic v1 would. Unknown keys are ignored.
 *
 * @param body parsed JSON body, or `undefined` when the request had no body
 * @returns coerced values (defaults filled) and the set of fields that were sent
 * @throws SimHttpError 422 `{"detail":[{loc:["body",...],msg,type}]}` on any issue
 */
export function validateModel(body: unknown, fields: FieldSpec[]): ValidatedModel {
  const issues: ValidationIssue[] = [];
  const res = walkFields(body, fields, ['body'], issues, PYDANTIC1);
  if (!res || issues.length > 0) throw validationError(issues);
  return res;
}
