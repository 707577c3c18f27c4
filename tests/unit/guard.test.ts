/**
 * The first look at a job's input (handler/jobs/input/guard.ts): JSON size (MAX_INPUT_BYTES), nesting depth and
 * prototype-pollution keys, measured without recursion.
 */
import { describe, expect, it } from 'vitest';
import { JobInputError } from '../../handler/errors/index.js';
import { FORBIDDEN_KEYS, MAX_INPUT_DEPTH, checkInputShape, jsonStringBytes, measureJson } from '../../handler/jobs/input/guard.js';
import { thrownMessage } from '../helpers/one-line-error.js';

const MiB = 1024 * 1024;

const messageOf = (fn: () => unknown): string => thrownMessage(fn, JobInputError);

/** `{"a": {"a": … 1 …}}` or `[[…]]`, `levels` deep, built from JSON text (as a job arrives). */
function nested(levels: number, kind: 'object' | 'array'): unknown {
  const text = kind === 'object' ? '{"a":'.repeat(levels) + '1' + '}'.repeat(levels) : '['.repeat(levels) + ']'.repeat(levels);
  return JSON.parse(text) as unknown;
}

describe('measureJson', () => {
  const samples: unknown[] = [
    null,
    true,
    0,
    -1.5e-7,
    1e21,
    '',
    'plain',
    'quote " backslash \\ slash /',
    'control \u0000\u0001\u001f\n\t',
    'é ü 中文 עברית مرحبا',
    '😀👩‍👩‍👧‍👦',
    'lone \ud800 and \udfff surrogates',
    '\u2028\u2029',
    [],
    {},
    [1, 'two', null, [3, [4]], { five: 5 }],
    { a: undefined, b: () => 1, c: [undefined, () => 1], d: 'x' },
    JSON.parse('{"__proto__": {"x": 1}, "constructor": "c", "a b": [true]}'),
  ];

  it.each(samples.map((s) => [s]))('counts exactly the UTF-8 bytes of JSON.stringify(%j)', (value) => {
    expect(measureJson(value).bytes).toBe(Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8'));
  });

  it('counts a few-MB input exactly', () => {
    const value = { prompt: 'x'.repeat(3 * MiB), list: Array.from({ length: 10_000 }, (_, i) => ({ i, s: 'é'.repeat(i % 7) })) };
    expect(measureJson(value).bytes).toBe(Buffer.byteLength(JSON.stringify(value)));
  });

  it('jsonStringBytes matches JSON.stringify', () => {
    for (const s of ['', 'abc', '"', '\\', '\u007f', '\u0080', '\ud83d', '\ud83d\ude00', 'a\u2028b']) {
      expect(jsonStringBytes(s)).toBe(Buffer.byteLength(JSON.stringify(s)));
    }
  });

  it('measures depth', () => {
    expect(measureJson(5).depth).toBe(0);
    expect(measureJson({}).depth).toBe(1);
    expect(measureJson({ a: [{ b: [] }] }).depth).toBe(4);
    expect(measureJson(nested(10, 'array')).depth).toBe(10);
  });

  it('walks 1,000,000 levels without overflowing the stack (JSON.stringify throws at ~10,000)', () => {
    const deep = nested(1_000_000, 'array');
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    const m = measureJson(deep);
    expect(m.depth).toBe(MAX_INPUT_DEPTH + 1);
    expect(m.tooDeepAt).toMatch(/^input\[0\]\[0\]/);
  });

  it('finds the first forbidden key, with its path', () => {
    const m = measureJson(JSON.parse('{"payload": {"alwayson_scripts": {"x": {"args": [{"constructor": 1}]}}}}'));
    expect(m.forbiddenKeyAt).toBe('input.payload.alwayson_scripts.x.args[0].constructor');
    expect(measureJson(JSON.parse('{"a": {"prototype": {}}}')).forbiddenKeyAt).toBe('input.a.prototype');
    expect(measureJson({ constructorX: 1, proto: 2, __proto: 3 }).forbiddenKeyAt).toBeUndefined();
    expect([...FORBIDDEN_KEYS]).toEqual(['__proto__', 'constructor', 'prototype']);
  });

  it('stops after maxNodes values and says so', () => {
    const m = measureJson(Array(1000).fill(0), 64, 100);
    expect(m.truncated).toBe(true);
  });
});

describe('checkInputShape', () => {
  it('refuses an input over MAX_INPUT_BYTES first, naming its size and the limit', () => {
    const input = { prompt: 'x'.repeat(24 * MiB - 13) };
    expect(Buffer.byteLength(JSON.stringify(input))).toBe(24 * MiB);
    expect(messageOf(() => checkInputShape(input, { maxInputBytes: 20 * MiB }))).toBe('input is 25165824 bytes, over MAX_INPUT_BYTES=20971520');
  });

  it('checks the size before the keys and the depth', () => {
    const input = JSON.parse(`{"__proto__": 1, "p": "${'x'.repeat(2000)}"}`) as unknown;
    expect(messageOf(() => checkInputShape(input, { maxInputBytes: 1024 }))).toMatch(/^input is 20\d\d bytes, over MAX_INPUT_BYTES=1024$/);
  });

  it('accepts an input of exactly MAX_INPUT_BYTES', () => {
    const input = { p: 'x'.repeat(1024 - 8) };
    expect(Buffer.byteLength(JSON.stringify(input))).toBe(1024);
    expect(() => checkInputShape(input, { maxInputBytes: 1024 })).not.toThrow();
  });

  it('refuses an input of many tiny values without walking all of it', () => {
    const input = Array(200_000).fill(0);
    expect(messageOf(() => checkInputShape(input, { maxInputBytes: 1024 }))).toBe('input is more than 1024 bytes, over MAX_INPUT_BYTES=1024');
  });

  it('refuses nesting deeper than 64 levels with the path, and accepts 64', () => {
    expect(() => checkInputShape(nested(MAX_INPUT_DEPTH, 'object'), { maxInputBytes: MiB })).not.toThrow();
    expect(messageOf(() => checkInputShape(nested(MAX_INPUT_DEPTH + 1, 'object'), { maxInputBytes: MiB }))).toBe(
      'input is nested more than 64 levels deep (at input.a.a.a.a.a.a.a.a.a.a.a.a… (64 levels)): objects and arrays may be nested at most 64 levels',
    );
    for (const levels of [10_000, 100_000]) {
      expect(messageOf(() => checkInputShape({ payload: { comments: nested(levels, 'array') } }, { maxInputBytes: 20 * MiB }))).toMatch(
        /^input is nested more than 64 levels deep \(at input\.payload\.comments\[0\]\[0\]/,
      );
    }
  });

  it.each([['__proto__'], ['constructor'], ['prototype']])('refuses the key %s anywhere as an unknown field', (key) => {
    const top = JSON.parse(`{"${key}": {"polluted": true}, "prompt": "x"}`) as unknown;
    expect(messageOf(() => checkInputShape(top, { maxInputBytes: MiB }))).toBe(
      `input.${key}: unknown field ("__proto__", "constructor" and "prototype" are refused as keys anywhere in the input)`,
    );
    const deep = JSON.parse(`{"api": {"method": "POST", "endpoint": "/sdapi/v1/options"}, "payload": {"override_settings": {"${key}": {}}}}`) as unknown;
    expect(messageOf(() => checkInputShape(deep, { maxInputBytes: MiB }))).toContain(`input.payload.override_settings.${key}: unknown field`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts ordinary inputs, primitives included (the envelope check names those)', () => {
    for (const input of [{ prompt: 'a cat' }, null, 5, 'x', [], { api: { method: 'GET', endpoint: '/sdapi/v1/samplers' } }]) {
      expect(() => checkInputShape(input, { maxInputBytes: MiB })).not.toThrow();
    }
  });
});
