/**
 * A small pydantic-2 (lax mode) imitation for the Forge flavor: Forge runs FastAPI
 * with pydantic 2 (`modules/api/models.py` uses `ConfigDict`, `str | None`), so its
 * request coercion and its 422 bodies differ from A1111's pydantic 1:
 * - int: ints, integral floats (`3.0`), numeric strings (`"12"`), bools; `3.5` → `int_from_float`;
 * - float: numbers, numeric strings, bools;
 * - str: strings only (numbers are refused: `string_type`);
 * - bool: bools, `0`/`1`, strings `0/off/f/false/n/no/1/on/t/true/y/yes` (any case);
 * - dict: objects only; list: arrays only; `None` only for Optional fields;
 * - issues are `{type, loc, msg, input[, ctx]}` (FastAPI drops pydantic's `url`).
 */
import { SimHttpError } from './errors.js';
import { PY_FALSE, PY_TRUE, brokenLimit, pyFloat, pyInt, walkFields, type FieldSpec, type ModelDialect, type ValidatedModel } from './validation.js';

/** One pydantic-2 error as FastAPI reports it in `{"detail": [...]}`. */
export interface Pydantic2Issue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

function typeIssue(type: string, msg: string, loc: (string | number)[], input: unknown, ctx?: Record<string, unknown>): Pydantic2Issue {
  return ctx ? { type, loc, msg, input, ctx } : { type, loc, msg, input };
}

/** The pydantic-2 error a `None` gets for a non-Optional field of this type. */
function noneIssue(spec: FieldSpec, loc: (string | number)[]): Pydantic2Issue {
  const t = spec.type;
  if (t === 'str') return typeIssue('string_type', 'Input should be a valid string', loc, null);
  if (t === 'int') return typeIssue('int_type', 'Input should be a valid integer', loc, null);
  if (t === 'float') return typeIssue('float_type', 'Input should be a valid number', loc, null);
  if (t === 'bool') return typeIssue('bool_type', 'Input should be a valid boolean', loc, null);
  if (t === 'dict') return typeIssue('dict_type', 'Input should be a valid dictionary', loc, null);
  return typeIssue('list_type', 'Input should be a valid list', loc, null);
}

function numberLimits(spec: FieldSpec, n: number, loc: (string | number)[], input: unknown, issues: Pydantic2Issue[]): number | undefined {
  const broken = brokenLimit(spec, n);
  if (!broken) return n;
  const [type, words] = { gt: ['greater_than', 'greater than'], ge: ['greater_than_equal', 'greater than or equal to'], le: ['less_than_equal', 'less than or equal to'] }[broken.key];
  issues.push(typeIssue(type, `Input should be ${words} ${broken.limit}`, loc, input, { [broken.key]: broken.limit }));
  return undefined;
}

function value(v: unknown, spec: FieldSpec, loc: (string | number)[], issues: Pydantic2Issue[]): unknown {
  if (v === null) {
    if (spec.nullable || spec.type === 'any') return null;
    issues.push(noneIssue(spec, loc));
    return undefined;
  }
  const t = spec.type;
  if (t === 'any') return v;
  if (t === 'str') {
    if (typeof v === 'string') return v;
    issues.push(typeIssue('string_type', 'Input should be a valid string', loc, v));
    return undefined;
  }
  if (t === 'int') {
    let n: number | undefined;
    if (typeof v === 'boolean') n = v ? 1 : 0;
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        issues.push(typeIssue('finite_number', 'Input should be a finite number', loc, v));
        return undefined;
      }
      if (!Number.isInteger(v)) {
        issues.push(typeIssue('int_from_float', 'Input should be a valid integer, got a number with a fractional part', loc, v));
        return undefined;
      }
      n = v;
    } else if (typeof v === 'string') {
      n = pyInt(v);
      if (n === undefined) {
        issues.push(typeIssue('int_parsing', 'Input should be a valid integer, unable to parse string as an integer', loc, v));
        return undefined;
      }
    } else {
      issues.push(typeIssue('int_type', 'Input should be a valid integer', loc, v));
      return undefined;
    }
    return numberLimits(spec, n, loc, v, issues);
  }
  if (t === 'float') {
    let n: number | undefined;
    if (typeof v === 'boolean') n = v ? 1 : 0;
    else if (typeof v === 'number') n = v;
    else if (typeof v === 'string') {
      n = pyFloat(v);
      if (n === undefined) {
        issues.push(typeIssue('float_parsing', 'Input should be a valid number, unable to parse string as a number', loc, v));
        return undefined;
      }
    } else {
      issues.push(typeIssue('float_type', 'Input should be a valid number', loc, v));
      return undefined;
    }
    return numberLimits(spec, n, loc, v, issues);
  }
  if (t === 'bool') {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
    if (typeof v === 'string' && PY_TRUE.has(v.trim().toLowerCase())) return true;
    if (typeof v === 'string' && PY_FALSE.has(v.trim().toLowerCase())) return false;
    if (typeof v === 'string' || typeof v === 'number') {
      issues.push(typeIssue('bool_parsing', 'Input should be a valid boolean, unable to interpret input', loc, v));
    } else {
      issues.push(typeIssue('bool_type', 'Input should be a valid boolean', loc, v));
    }
    return undefined;
  }
  if (t === 'dict') {
    if (typeof v === 'object' && !Array.isArray(v)) return v;
    issues.push(typeIssue('dict_type', 'Input should be a valid dictionary', loc, v));
    return undefined;
  }
  if (t === 'list' || t === 'list[str]' || 'listOf' in t) {
    if (!Array.isArray(v)) {
      issues.push(typeIssue('list_type', 'Input should be a valid list', loc, v));
      return undefined;
    }
    if (t === 'list') return v;
    const before = issues.length;
    const items =
      t === 'list[str]'
        ? v.map((item, i) => value(item, { name: String(i), type: 'str' }, [...loc, i], issues))
        : v.map((item, i) => walkFields(item, t.listOf, [...loc, i], issues, PYDANTIC2)?.values);
    return issues.length === before ? items : undefined;
  }
  if ('literal' in t) {
    if (typeof v === 'number' && t.literal.includes(v)) return v;
    const expected = t.literal.length === 2 ? `${t.literal[0]} or ${t.literal[1]}` : t.literal.join(', ');
    issues.push(typeIssue('literal_error', `Input should be ${expected}`, loc, v, { expected }));
    return undefined;
  }
  if (typeof v === 'string' && t.strLiteral.includes(v)) return v;
  const expected = t.strLiteral.map((x) => `'${x}'`).join(', ');
  issues.push(typeIssue('literal_error', `Input should be ${expected}`, loc, v, { expected }));
  return undefined;
}

const PYDANTIC2: ModelDialect<Pydantic2Issue> = {
  value,
  missingModel: (loc) => typeIssue('missing', 'Field required', loc, null),
  notObject: (loc, input) => typeIssue('model_attributes_type', 'Input should be a valid dictionary or object to extract fields from', loc, input),
  missingField: (loc, input) => typeIssue('missing', 'Field required', loc, input),
};

/**
 * Validates a parsed JSON body the way FastAPI + pydantic 2 (lax mode) would; unknown keys are ignored.
 * @param body parsed JSON body, `undefined` when the request had none
 * @throws SimHttpError 422 `{"detail": [{type, loc, msg, input, ctx?}]}`
 */
export function validateModel2(body: unknown, fields: FieldSpec[]): ValidatedModel {
  const issues: Pydantic2Issue[] = [];
  const res = walkFields(body, fields, ['body'], issues, PYDANTIC2);
  if (!res || issues.length > 0) throw new SimHttpError(422, { detail: issues });
  return res;
}

/** FastAPI (pydantic 2) answer to a body that is not valid JSON: 422 `json_invalid`. */
export function jsonInvalid2(pos: number): SimHttpError {
  return new SimHttpError(422, {
    detail: [{ type: 'json_invalid', loc: ['body', pos], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } }],
  });
}

/** FastAPI (pydantic 2) answer to a missing required body or field: 422 `missing`. */
export function pydantic2Missing(loc: (string | number)[], input: unknown = null): SimHttpError {
  return new SimHttpError(422, { detail: [{ type: 'missing', loc, msg: 'Field required', input }] });
}

/** FastAPI (pydantic 2) answer to a `dict` body that is not an object: 422 `dict_type`. */
export function pydantic2DictType(input: unknown): SimHttpError {
  return new SimHttpError(422, { detail: [{ type: 'dict_type', loc: ['body'], msg: 'Input should be a valid dictionary', input }] });
}
