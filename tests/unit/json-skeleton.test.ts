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

  it('reads the same from the parts an answer arrived in, split anywhere (escapes, backslash runs, UTF-8 across parts)', () => {
    const long = 'B'.repeat(300);
    const doc = {
      images: [long, long + '\\', long + '"'],
      parameters: { prompt: 'é ü 漢字 "q" \\ end', steps: 20, nested: [{ a: 'x\\' }, null, true] },
      info: '{"seed": 1, "prompt": "日本"}',
      tail: '\\\"',
    };
    const bytes = Buffer.from(JSON.stringify(doc));
    const whole = jsonSkeleton(bytes);
    expect(whole).toEqual({ images: ['', '', ''], parameters: doc.parameters, info: doc.info, tail: doc.tail });
    for (let i = 0; i <= bytes.length; i++) {
      expect(jsonSkeleton([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole);
    }
    // Three parts, the middle one a single byte (a lone backslash or quote between two parts).
    for (let i = 1; i < bytes.length - 1; i++) {
      expect(jsonSkeleton([bytes.subarray(0, i), bytes.subarray(i, i + 1), bytes.subarray(i + 1)])).toEqual(whole);
    }
  });

  it('from parts: small documents are parsed whole, and garbage or truncation still throws', () => {
    expect(jsonSkeleton([Buffer.from('{"a": '), Buffer.from('[1, "é"]}')])).toEqual({ a: [1, 'é'] });
    const good = Buffer.from(JSON.stringify({ images: [big] }));
    expect(() => jsonSkeleton([good.subarray(0, 2000), good.subarray(2000, 3000)])).toThrow(/unterminated string starting at byte 11/);
    expect(() => jsonSkeleton([Buffer.from('<html>'), Buffer.from(big)])).toThrow(SyntaxError);
  });
});
