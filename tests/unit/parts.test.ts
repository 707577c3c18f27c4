import { describe, expect, it } from 'vitest';
import { joinParts, partsLength } from '../../handler/parts.js';

describe('parts', () => {
  it('a single part is handed back itself; several are joined into one copy, in order', () => {
    const a = Buffer.from('{"a":');
    expect(joinParts([a])).toBe(a);
    const joined = joinParts([a, Buffer.from('1'), Buffer.from('}')]);
    expect(joined.toString()).toBe('{"a":1}');
    a[0] = 0x5b; // a copy: the part changed, the joined bytes not
    expect(joined.toString()).toBe('{"a":1}');
    expect(joinParts([]).length).toBe(0);
  });

  it('counts the bytes of all parts', () => {
    expect(partsLength([Buffer.from('é'), Buffer.alloc(10)])).toBe(12);
    expect(partsLength([])).toBe(0);
  });
});
