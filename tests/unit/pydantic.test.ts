import { describe, expect, it } from 'vitest';
import { coerce } from '../../handler/jobs/input/pydantic.js';

const ok = (value: unknown) => ({ ok: true, value });

describe('coerce as pydantic 1 (A1111 v1.10.1)', () => {
  it.each([
    ['integer', 5, 5],
    ['integer', 5.9, 5],
    ['integer', ' 12 ', 12],
    ['integer', '1_000', 1000],
    ['integer', true, 1],
    ['number', '2.5', 2.5],
    ['number', '1e3', 1000],
    ['number', false, 0],
    ['string', 5, '5'],
    ['boolean', 0, false],
    ['boolean', 'Yes', true],
    ['boolean', 'off', false],
    ['object', [['a', 1]], [['a', 1]]],
  ] as const)('%s takes %j', (kind, value, expected) => {
    expect(coerce(kind, value, 1)).toEqual(ok(expected));
  });

  it.each([
    ['integer', '2.5'],
    ['integer', 'x'],
    ['integer', []],
    ['number', 'abc'],
    ['string', []],
    ['boolean', 2],
    ['boolean', 'maybe'],
    ['array', 'a'],
    ['array', {}],
    ['object', 'x'],
  ] as const)('%s refuses %j', (kind, value) => {
    expect(coerce(kind, value, 1).ok).toBe(false);
  });

  it('checks the items of typed arrays', () => {
    expect(coerce('array', ['a', 1], 1, 'string')).toEqual(ok(['a', '1']));
    expect(coerce('array', ['a', {}], 1, 'string')).toMatchObject({ ok: false, reason: 'must be an array of strings (item 1: must be a string)' });
  });
});

describe('coerce as pydantic 2 (Forge)', () => {
  it('is stricter for int and str', () => {
    expect(coerce('integer', 3.0, 2)).toEqual(ok(3));
    expect(coerce('integer', 3.5, 2).ok).toBe(false);
    expect(coerce('integer', '7', 2)).toEqual(ok(7));
    expect(coerce('string', 5, 2).ok).toBe(false);
    expect(coerce('object', [['a', 1]], 2).ok).toBe(false);
  });
});
