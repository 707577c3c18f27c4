/**
 * The first look at a job's `input`, before the envelope, the route or the payload is read: its size as
 * JSON (`MAX_INPUT_BYTES`), its nesting depth ({@link MAX_INPUT_DEPTH}) and its keys (no `__proto__`,
 * `constructor` or `prototype` anywhere).
 *
 * The walk is iterative (an explicit stack), so an input nested 100,000 levels deep is measured and refused
 * without overflowing the call stack — `JSON.stringify` itself throws a RangeError at about 10,000 levels,
 * and every later step (ajv, the A1111 call) would recurse.
 */
import type { LimitsConfig } from '../../config.js';
import { JobInputError } from '../../errors/index.js';
import { appendIndex, appendKey } from '../format.js';

/**
 * Deepest nesting of objects and arrays accepted in a job's `input` (the input object itself is level 1).
 * A1111 payloads need about 8 levels (`input.payload.alwayson_scripts.<title>.args[i].<field>`); 64 leaves
 * room for script arguments. Not configurable.
 */
export const MAX_INPUT_DEPTH = 64;

/**
 * Keys refused anywhere in a job's input: the names through which JavaScript code can reach or replace an
 * object's prototype. `JSON.parse` makes them ordinary own properties, which this worker never copies onto
 * other objects; refusing them keeps it that way for every later step, and A1111 has no field of these names.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** What {@link measureJson} found. */
export interface JsonMeasure {
  /**
   * Size of `JSON.stringify(value)` in UTF-8 bytes (lone surrogates counted as their 6-byte `\udXXX` escape),
   * counted down to `maxDepth`: containers nested deeper are not looked into.
   */
  bytes: number;
  /** True when `bytes` stopped counting early because the walk visited more than `maxNodes` values. */
  truncated: boolean;
  /** Deepest nesting seen (0 for a primitive, 1 for `{}` or `[]`), at most `maxDepth + 1`. */
  depth: number;
  /** Path of the first container nested deeper than `maxDepth` (e.g. `payload.comments.a.a…`), if any. */
  tooDeepAt?: string;
  /** Path of the first key in {@link FORBIDDEN_KEYS}, if any. */
  forbiddenKeyAt?: string;
}

/** One container waiting to be looked into. */
interface Frame {
  value: object;
  depth: number;
  parent: Frame | undefined;
  /** Key or index of `value` in its parent. */
  key: string | number;
}

/** Printable ASCII without `"` and `\`: the JSON text is the string plus two quotes. */
const PLAIN_JSON_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** UTF-8 byte length of `JSON.stringify(s)`. */
export function jsonStringBytes(s: string): number {
  if (PLAIN_JSON_STRING.test(s)) return s.length + 2;
  return Buffer.byteLength(JSON.stringify(s), 'utf8');
}

/** JSON byte length of a primitive; `undefined` for values JSON.stringify leaves out of objects. */
function primitiveBytes(value: unknown): number | undefined {
  switch (typeof value) {
    case 'string':
      return jsonStringBytes(value);
    case 'number':
      return Number.isFinite(value) ? String(value).length : 4;
    case 'boolean':
      return value ? 4 : 5;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      // null (and BigInt, which JSON cannot carry: counted as null).
      return 4;
  }
}

/** The readable path of a frame (`payload.comments[0].a`), at most `maxSegments` segments then `…`. */
function framePath(frame: Frame | undefined, extraKey?: string, maxSegments = 12): string {
  const segments: Array<string | number> = [];
  for (let f = frame; f && f.parent; f = f.parent) segments.push(f.key);
  segments.reverse();
  if (extraKey !== undefined) segments.push(extraKey);
  let path = 'input';
  const shown = segments.length > maxSegments ? segments.slice(0, maxSegments) : segments;
  for (const s of shown) path = typeof s === 'number' ? appendIndex(path, s) : appendKey(path, s);
  if (shown.length < segments.length) path += `… (${segments.length} levels)`;
  return path;
}

/**
 * Measures a JSON value without recursion: its JSON size in bytes, its nesting depth, the first container
 * deeper than `maxDepth` and the first key in {@link FORBIDDEN_KEYS}. Never throws and never reads
 * prototypes (own enumerable keys only, as `JSON.stringify`).
 *
 * @param value a value as produced by `JSON.parse` (no cycles; other values are measured as JSON.stringify
 *   would serialise them, with functions and `undefined` left out).
 * @param maxDepth containers nested deeper are reported in `tooDeepAt` and not looked into.
 * @param maxNodes safety bound on the number of values visited; past it `truncated` is set and `bytes` is a
 *   lower bound. A JSON text of N bytes has at most N values, so `maxNodes = maxInputBytes` never truncates
 *   an input within the size limit.
 */
export function measureJson(value: unknown, maxDepth: number = MAX_INPUT_DEPTH, maxNodes = Number.MAX_SAFE_INTEGER): JsonMeasure {
  const result: JsonMeasure = { bytes: 0, truncated: false, depth: 0 };
  if (typeof value !== 'object' || value === null) {
    result.bytes = primitiveBytes(value) ?? 0;
    return result;
  }
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, key: '' }];
  let nodes = 1;
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.depth > result.depth) result.depth = frame.depth;
    if (frame.depth > maxDepth) {
      result.tooDeepAt ??= framePath(frame);
      continue;
    }
    if (Array.isArray(frame.value)) {
      const arr = frame.value as unknown[];
      result.bytes += 2 + Math.max(0, arr.length - 1);
      for (let i = arr.length - 1; i >= 0; i--) {
        const item = arr[i];
        if (typeof item === 'object' && item !== null) stack.push({ value: item, depth: frame.depth + 1, parent: frame, key: i });
        else result.bytes += primitiveBytes(item) ?? 4;
      }
      nodes += arr.length;
    } else {
      const obj = frame.value as Record<string, unknown>;
      const keys = Object.keys(obj);
      let members = 0;
      const children: Frame[] = [];
      for (const key of keys) {
        const item = obj[key];
        if (FORBIDDEN_KEYS.has(key)) result.forbiddenKeyAt ??= framePath(frame, key);
        if (typeof item === 'object' && item !== null) {
          children.push({ value: item, depth: frame.depth + 1, parent: frame, key });
        } else {
          const b = primitiveBytes(item);
          if (b === undefined) continue;
          result.bytes += b;
        }
        result.bytes += jsonStringBytes(key) + 1;
        members++;
      }
      result.bytes += 2 + Math.max(0, members - 1);
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
      nodes += keys.length;
    }
    if (nodes > maxNodes) {
      result.truncated = true;
      break;
    }
  }
  return result;
}

/**
 * Checks a job's `input` before anything else is looked at (issue 4, "Size and cost caps").
 *
 * In this order:
 * 1. size: the input as JSON must be at most `limits.maxInputBytes` bytes (`MAX_INPUT_BYTES`);
 * 2. depth: objects and arrays nested at most {@link MAX_INPUT_DEPTH} levels;
 * 3. keys: no `__proto__`, `constructor` or `prototype` key at any level.
 *
 * @param input the job's `input` as parsed from JSON.
 * @param limits `maxInputBytes` is read.
 * @throws JobInputError with one line, e.g. `input is 25165824 bytes, over MAX_INPUT_BYTES=20971520`,
 *   `input is nested more than 64 levels deep (at input.payload.comments.a.a…)`, or
 *   `input.payload.__proto__: unknown field ("__proto__", "constructor" and "prototype" are refused as keys anywhere in the input)`.
 */
export function checkInputShape(input: unknown, limits: Pick<LimitsConfig, 'maxInputBytes'>): void {
  const m = measureJson(input, MAX_INPUT_DEPTH, limits.maxInputBytes);
  if (m.truncated) {
    throw new JobInputError(`input is more than ${limits.maxInputBytes} bytes, over MAX_INPUT_BYTES=${limits.maxInputBytes}`);
  }
  if (m.bytes > limits.maxInputBytes) {
    throw new JobInputError(`input is ${m.bytes} bytes, over MAX_INPUT_BYTES=${limits.maxInputBytes}`);
  }
  if (m.tooDeepAt !== undefined) {
    throw new JobInputError(
      `input is nested more than ${MAX_INPUT_DEPTH} levels deep (at ${m.tooDeepAt}): objects and arrays may be nested at most ${MAX_INPUT_DEPTH} levels`,
    );
  }
  if (m.forbiddenKeyAt !== undefined) {
    throw new JobInputError(
      `${m.forbiddenKeyAt}: unknown field ("__proto__", "constructor" and "prototype" are refused as keys anywhere in the input)`,
    );
  }
}
