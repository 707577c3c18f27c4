import { describe, expect, it } from 'vitest';
import { jsonSkeleton } from '../../handler/a1111/json-skeleton.js';

const big = 'A'.repeat(5000);

describe('jsonSkeleton', () => {
  it('parses small documents exactly', () => {
    expect(jsonSkeleton(Buffer.from('{"a": [1, "x", null], "b": "é"}'))).toEqual({ a: [1, 'x', null], b: 'é' });
  });

  it('replaces long strings by "" and keeps the structure and short strings', () => {
    const doc = { images: [big, big + 'B'], info: '{"seed": 1}', parameters: { prompt: 'say "hi" \\ there', steps: 30 } };
    expect(jsonSkeleton(Buffer.from(JSON.stringify(doc)))).toEqual({ images: ['', ''], info: '{"seed": 1}', parameters: { prompt: 'say "hi" \\ there', steps: 30 } });
  });

  it('handles escaped quotes and backslash runs at string ends', () => {
    const doc = { a: big + '\\', b: big + '"', c: '\\\\"x"', d: [big + '\\"'] };
    expect(jsonSkeleton(Buffer.from(JSON.stringify(doc)))).toEqual({ a: '', b: '', c: '\\\\"x"', d: [''] });
  });

  it('throws on garbage, truncation and broken structure', () => {
    expect(() => jsonSkeleton(Buffer.from('<html>Internal Server Error</html>' + big))).toThrow(SyntaxError);
    const good = JSON.stringify({ images: [big] });
    expect(() => jsonSkeleton(Buffer.from(good.slice(0, 3000)))).toThrow(SyntaxError);
    expect(() => jsonSkeleton(Buffer.from(good.replace('{', '[')))).toThrow(SyntaxError);
    expect(() => jsonSkeleton(Buffer.from(good + ',' ))).toThrow(SyntaxError);
  });
});
