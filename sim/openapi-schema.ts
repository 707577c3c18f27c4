/**
 * JSON schemas of request models as pydantic renders them for FastAPI's
 * `/openapi.json`:
 * - pydantic 1 (A1111 v1.10.1, OpenAPI 3.0): `{title, description?, default?, <type>}` per field
 *   (pydantic 1 `get_field_info_schema` then `field_type_schema`); `Optional` is never marked;
 *   a field whose default is `None` has no `default`; `Any` → only `title`; `dict` → `object`;
 *   `list` → `{type: array, items: {}}`; `Literal` → `enum` + type; `ge`/`le`/`gt` →
 *   `minimum`/`maximum`/`exclusiveMinimum`; required fields listed in `required`.
 * - pydantic 2 (Forge, OpenAPI 3.1): the type first, then `title`, `description`, `default`
 *   (`default: null` included); `Optional[X]` → `anyOf: [X, {type: null}]`.
 */
import type { RequestModel } from './models.js';
import type { FieldSpec, FieldType } from './validation.js';

type Json = Record<string, unknown>;

/** Python's `str.title()`: upper-case a letter that follows a non-letter, lower-case the others. */
export function pyTitle(s: string): string {
  let out = '';
  let prevCased = false;
  for (const ch of s) {
    const isLetter = ch.toLowerCase() !== ch.toUpperCase();
    out += isLetter ? (prevCased ? ch.toLowerCase() : ch.toUpperCase()) : ch;
    prevCased = isLetter;
  }
  return out;
}

/** pydantic's default field title: `alias.title().replace('_', ' ')`. */
export function fieldTitle(f: FieldSpec): string {
  return f.title ?? pyTitle(f.name).replace(/_/g, ' ');
}

function typeSchema(t: FieldType, f: FieldSpec, ref: (name: string) => string): Json {
  if (t === 'str') return { type: 'string' };
  if (t === 'int') return { type: 'integer' };
  if (t === 'float') return { type: 'number' };
  if (t === 'bool') return { type: 'boolean' };
  if (t === 'dict') return { type: 'object' };
  if (t === 'list') return { type: 'array', items: {} };
  if (t === 'list[str]') return { type: 'array', items: { type: 'string' } };
  if (t === 'any') return {};
  if ('literal' in t) return { enum: [...t.literal], type: 'integer' };
  if ('strLiteral' in t) return { enum: [...t.strLiteral], type: 'string' };
  return { type: 'array', items: { $ref: ref(f.model ?? 'Model') } };
}

function limits(f: FieldSpec): Json {
  const out: Json = {};
  if (f.gt !== undefined) out['exclusiveMinimum'] = f.gt;
  if (f.ge !== undefined) out['minimum'] = f.ge;
  if (f.le !== undefined) out['maximum'] = f.le;
  return out;
}

/** One field as pydantic 1 renders it. */
export function pydantic1FieldSchema(f: FieldSpec, refPrefix: string): Json {
  const s: Json = { title: fieldTitle(f) };
  if (f.description) s['description'] = f.description;
  if (!f.required && f.default !== null && f.default !== undefined) s['default'] = f.default;
  return { ...s, ...typeSchema(f.type, f, (n) => `${refPrefix}${n}`), ...limits(f) };
}

/** One field as pydantic 2 renders it (OpenAPI 3.1). */
export function pydantic2FieldSchema(f: FieldSpec, refPrefix: string): Json {
  const base = { ...typeSchema(f.type, f, (n) => `${refPrefix}${n}`), ...limits(f) };
  const nullable = f.nullable && f.type !== 'any';
  const s: Json = nullable ? { anyOf: [base, { type: 'null' }] } : base;
  s['title'] = fieldTitle(f);
  if (f.description) s['description'] = f.description;
  if (!f.required) s['default'] = f.default === undefined ? null : f.default;
  return s;
}

/**
 * A model's schema as pydantic 1 renders it: `{title, type: object, properties, required?}`.
 * @param refPrefix prefix of `$ref`s to nested models (`#/components/schemas/` in OpenAPI, `#/definitions/` alone)
 */
export function pydantic1ModelSchema(m: RequestModel, refPrefix = '#/definitions/'): Json {
  const properties: Json = {};
  for (const f of m.fields) properties[f.name] = pydantic1FieldSchema(f, refPrefix);
  const required = m.fields.filter((f) => f.required).map((f) => f.name);
  return { title: m.name, type: 'object', properties, ...(required.length ? { required } : {}) };
}

/** A model's schema as pydantic 2 renders it: `{properties, type: object, required?, title}`. */
export function pydantic2ModelSchema(m: RequestModel, refPrefix: string): Json {
  const properties: Json = {};
  for (const f of m.fields) properties[f.name] = pydantic2FieldSchema(f, refPrefix);
  const required = m.fields.filter((f) => f.required).map((f) => f.name);
  return { properties, type: 'object', ...(required.length ? { required } : {}), title: m.name };
}
