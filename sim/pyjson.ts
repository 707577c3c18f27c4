/**
 * Python-flavoured text helpers so that strings produced by the simulator look
 * like the ones Python/A1111 produces: `float` formatting (`7.0`), `repr()` of a
 * string, `str()` of values in infotexts, and `json.dumps()` with its default
 * settings (used for the `info` string of txt2img/img2img, docs/a1111-api.md, "Responses").
 */

/**
 * Marks a number that A1111 holds as a Python `float`, so that it is written as
 * `7.0` rather than `7` by {@link pyDumps} and {@link pyStr}. In plain
 * `JSON.stringify` it serialises as the bare number.
 */
export class PyFloat {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

/** A value that {@link pyDumps} can serialise (JSON value, `undefined` = Python `None`, or {@link PyFloat}). */
export type PyValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | PyFloat
  | PyValue[]
  | { [key: string]: PyValue };

/**
 * Formats a number the way Python's `repr(float)` does: `7` → `"7.0"`,
 * `0.8` → `"0.8"`, `1e-5` → `"1e-05"`, `1e16` → `"1e+16"`.
 */
export function pyFloatStr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = n.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const sign = exp < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const s = String(n);
  return s.includes('.') ? s : `${s}.0`;
}

/**
 * Python `str()` of a value as it appears in an infotext: booleans become
 * `True`/`False`, {@link PyFloat} is formatted with {@link pyFloatStr}, `null`
 * becomes `None`, integers stay as they are.
 */
export function pyStr(v: unknown): string {
  if (v instanceof PyFloat) return pyFloatStr(v.value);
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloatStr(v);
  if (typeof v === 'string') return v;
  return pyDumps(v as PyValue);
}

/** Python `repr()` of a `str` (used in exception messages such as `model 'x' not found`). */
export function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

function escapeAscii(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i];
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/**
 * `json.dumps(value)` with Python's defaults: `", "` and `": "` separators,
 * `ensure_ascii=True` (non-ASCII as `\uXXXX`), floats marked with
 * {@link PyFloat} written as `7.0`, `undefined` written as `null`.
 */
export function pyDumps(value: PyValue): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof PyFloat) {
    const v = value.value;
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return pyFloatStr(v);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
    return Number.isInteger(value) ? String(value) : pyFloatStr(value);
  }
  if (typeof value === 'string') return escapeAscii(value);
  if (Array.isArray(value)) return `[${value.map((v) => pyDumps(v)).join(', ')}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value)) parts.push(`${escapeAscii(k)}: ${pyDumps(v)}`);
  return `{${parts.join(', ')}}`;
}
