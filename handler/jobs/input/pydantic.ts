/**
 * Whether a JSON value would pass pydantic's validation of a field of a given kind, and the value pydantic would
 * make of it — used to accept what A1111 accepts (the payload itself is forwarded unchanged; the coerced value only
 * feeds the worker's own computations, such as the cost caps).
 *
 * pydantic 1 (A1111 v1.10.1; pydantic `validators.py`): `int` takes integers, floats (truncated: `int(3.7)` = 3),
 * booleans and integer strings (`" 12 "`, `"1_000"`); `float` takes numbers, booleans and numeric strings; `str`
 * takes strings and numbers (`str(5)`); `bool` takes `true`/`false`, `0`/`1` and the strings `0 off f false n no 1 on
 * t true y yes` (any case); `list` takes arrays; `dict` takes objects (and lists of pairs, as Python's `dict()`).
 *
 * pydantic 2 lax mode (Forge; pydantic's "Conversion Table"): `int` refuses floats with a fraction and non-integer
 * strings; `str` refuses numbers; `bool` takes the same strings and `0`/`1`; the rest as pydantic 1.
 */
import type { FieldKind } from '../../a1111/server-model.js';

/** The outcome: the value pydantic would produce, or why it refuses. */
export type Coerced = { ok: true; value: unknown } | { ok: false; reason: string };

const BOOL_TRUE = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const BOOL_FALSE = new Set(['0', 'off', 'f', 'false', 'n', 'no']);
const INT_TEXT = /^[+-]?\d+(_\d+)*$/;
const FLOAT_TEXT = /^[+-]?((\d+(_\d+)*)?\.?\d+(_\d+)*([eE][+-]?\d+)?|\d+(_\d+)*\.|inf(inity)?|nan)$/i;

function fail(reason: string): Coerced {
  return { ok: false, reason };
}

function toInt(value: unknown, version: 1 | 2): Coerced {
  if (typeof value === 'boolean') return { ok: true, value: value ? 1 : 0 };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return fail('must be an integer');
    if (version === 2 && !Number.isInteger(value)) return fail('must be an integer (pydantic 2 refuses a number with a fraction)');
    return { ok: true, value: Math.trunc(value) };
  }
  if (typeof value === 'string') {
    const t = value.trim();
    if (INT_TEXT.test(t)) return { ok: true, value: Number(t.replace(/_/g, '')) };
    return fail('must be an integer (or a string of one)');
  }
  return fail('must be an integer');
}

function toFloat(value: unknown): Coerced {
  if (typeof value === 'boolean') return { ok: true, value: value ? 1 : 0 };
  if (typeof value === 'number') return { ok: true, value };
  if (typeof value === 'string') {
    const t = value.trim();
    if (FLOAT_TEXT.test(t)) {
      const lower = t.toLowerCase().replace(/_/g, '');
      const n = lower.includes('inf') ? (lower.startsWith('-') ? -Infinity : Infinity) : lower.includes('nan') ? NaN : Number(lower);
      return { ok: true, value: n };
    }
    return fail('must be a number (or a string of one)');
  }
  return fail('must be a number');
}

function toBool(value: unknown): Coerced {
  if (typeof value === 'boolean') return { ok: true, value };
  if (value === 0 || value === 1) return { ok: true, value: value === 1 };
  if (typeof value === 'string') {
    const t = value.trim().toLowerCase();
    if (BOOL_TRUE.has(t)) return { ok: true, value: true };
    if (BOOL_FALSE.has(t)) return { ok: true, value: false };
  }
  return fail('must be a boolean (true, false, 0, 1 or a string such as "true", "no")');
}

function toStr(value: unknown, version: 1 | 2): Coerced {
  if (typeof value === 'string') return { ok: true, value };
  if (version === 1 && typeof value === 'number' && Number.isFinite(value)) return { ok: true, value: String(value) };
  if (version === 1 && typeof value === 'boolean') return { ok: true, value: value ? 'True' : 'False' };
  return fail(version === 2 ? 'must be a string (pydantic 2 does not take numbers for strings)' : 'must be a string');
}

function isPairs(value: unknown[]): boolean {
  return value.every((p) => Array.isArray(p) && p.length === 2);
}

/**
 * Reads `value` as pydantic would for a field of `kind` (not `null`: nullability is the caller's).
 * @param kind the field's kind in the server's model
 * @param value any JSON value but `null`
 * @param version the server's pydantic major version
 * @param items the kind of an array's items (`list[str]`), checked item by item
 */
export function coerce(kind: FieldKind, value: unknown, version: 1 | 2, items?: FieldKind): Coerced {
  switch (kind) {
    case 'integer':
      return toInt(value, version);
    case 'number':
      return toFloat(value);
    case 'boolean':
      return toBool(value);
    case 'string':
      return toStr(value, version);
    case 'array': {
      if (!Array.isArray(value)) return fail('must be an array');
      if (!items || items === 'any' || items === 'object') return { ok: true, value };
      const out: unknown[] = [];
      for (let i = 0; i < value.length; i++) {
        const c = value[i] === null ? fail('null') : coerce(items, value[i], version);
        if (!c.ok) return fail(`must be an array of ${items === 'string' ? 'strings' : `${items}s`} (item ${i}: ${c.reason})`);
        out.push(c.value);
      }
      return { ok: true, value: out };
    }
    case 'object':
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return { ok: true, value };
      if (version === 1 && Array.isArray(value) && isPairs(value)) return { ok: true, value };
      return fail('must be an object');
    default:
      return { ok: true, value };
  }
}
