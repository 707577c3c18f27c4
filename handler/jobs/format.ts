/**
 * How values and field paths appear in the one-line messages of refused jobs (`{error}` of a FAILED job).
 *
 * Every message must stay on one line whatever the caller sent: values are shown as JSON (which escapes
 * control characters), plus U+2028/U+2029, which JSON leaves raw but which many viewers break lines at.
 */

/** Strings longer than this are shortened in messages. */
export const MAX_SHOWN_CHARS = 40;

/** Escapes the two line separators JSON.stringify leaves raw (U+2028, U+2029). */
export function escapeLineSeparators(text: string): string {
  return text.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** JSON text of a value on one line, or `undefined` when it has none (cycles, BigInt). */
export function oneLineJson(value: unknown): string | undefined {
  try {
    const json = JSON.stringify(value);
    return json === undefined ? undefined : escapeLineSeparators(json);
  } catch {
    return undefined;
  }
}

/** `1 item` / `2 items`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** True for strings that look like base64 or a data URI (shown as `<string of N chars>` rather than cut). */
export function looksLikeBase64(s: string): boolean {
  return /^data:[^,]{0,200},/.test(s) || /^[A-Za-z0-9+/_-]+={0,2}$/.test(s);
}

/** True for a JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A value as it appears in messages: JSON for short values; long strings cut at {@link MAX_SHOWN_CHARS}
 * characters (base64 strings as `<string of N chars>`); long arrays/objects summarised by their size.
 * Always one line.
 */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') {
    const chars = Array.from(value);
    if (chars.length <= MAX_SHOWN_CHARS) return oneLineJson(value)!;
    if (looksLikeBase64(value)) return `<string of ${value.length} chars>`;
    return `${oneLineJson(chars.slice(0, MAX_SHOWN_CHARS).join(''))!}… (${value.length} chars)`;
  }
  if (Array.isArray(value) && value.length > MAX_SHOWN_CHARS) return `an array of ${plural(value.length, 'item')}`;
  if (isObject(value) && Object.keys(value).length > MAX_SHOWN_CHARS) {
    return `an object with ${plural(Object.keys(value).length, 'key')}`;
  }
  const json = oneLineJson(value);
  if (json !== undefined && json.length <= MAX_SHOWN_CHARS) return json;
  if (Array.isArray(value)) return `an array of ${plural(value.length, 'item')}`;
  if (isObject(value)) return `an object with ${plural(Object.keys(value).length, 'key')}`;
  return json ?? String(value);
}

/**
 * Appends one object key to a field path: `a.b` for plain names (letters, digits, `_`, `$`, `-`; at most 60
 * characters), `a["odd key"]` otherwise (the key shown as by {@link showValue}, so one line and shortened).
 */
export function appendKey(path: string, key: string): string {
  if (/^[A-Za-z_$][\w$-]*$/.test(key) && key.length <= 60) return path ? `${path}.${key}` : key;
  return `${path}[${showValue(key)}]`;
}

/** Appends one array index to a field path: `a[3]`. */
export function appendIndex(path: string, index: number): string {
  return `${path}[${index}]`;
}
