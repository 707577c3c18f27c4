import { describe, expect, it } from 'vitest';
import { RawJson, pyTruthy, resultFromError, resultFromOutput, serializeResult } from '../../handler/runpod/result.js';

describe('result bodies from handler output (docs/runpod-protocol.md, "Non-generator handler → body" table)', () => {
  const rows: Array<[unknown, unknown]> = [
    ['hi', { output: 'hi' }],
    [null, { output: null }],
    [undefined, { output: null }],
    [{ a: 1 }, { output: { a: 1 } }],
    [{ output: 'x' }, { output: { output: 'x' } }],
    [{}, {}],
    [{ error: 'bad' }, { error: 'bad' }],
    [{ error: 'bad', detail: 1 }, { output: { detail: 1 }, error: 'bad' }],
    [{ error: '' }, {}],
    [{ error: null }, {}],
    [{ x: 1, refresh_worker: true }, { output: { x: 1 }, stopPod: true }],
    [{ error: 'e', refresh_worker: true }, { error: 'e', stopPod: true }],
    [[1, 2], { output: [1, 2] }],
    [{ error: ['a', 'b'] }, { error: ['a', 'b'] }],
    [{ x: 1, refresh_worker: false }, { output: { x: 1 } }],
  ];
  it.each(rows)('%j → %j', (out, body) => {
    expect(resultFromOutput(out)).toEqual(body);
  });

  it('keeps the key order output, error, stopPod', () => {
    const body = resultFromOutput({ refresh_worker: true, error: 'e', z: 1 });
    expect(Object.keys(body)).toEqual(['output', 'error', 'stopPod']);
    expect(serializeResult(body).toString()).toBe('{"output":{"z":1},"error":"e","stopPod":true}');
  });

  it('python truthiness', () => {
    for (const f of [0, '', false, null, undefined, [], {}]) expect(pyTruthy(f)).toBe(false);
    for (const t of [1, 'a', true, [0], { a: 0 }]) expect(pyTruthy(t)).toBe(true);
  });
});

describe('error body of a handler exception (docs/runpod-protocol.md, "Handler exception → body")', () => {
  it('is {"error": "<JSON string>"} with the six keys in order, ASCII-escaped', () => {
    const err = new TypeError('bad ünïcode input');
    const body = resultFromError(err, { hostname: 'abc-64410f2a', workerId: 'abc', version: '0.1.0' });
    expect(Object.keys(body)).toEqual(['error']);
    const s = body.error as string;
    expect(typeof s).toBe('string');
    expect(s).toMatch(/^\{"error_type": "<class 'TypeError'>", "error_message": "bad \\u00fcn\\u00efcode input", "error_traceback": /);
    expect(/[^\x00-\x7f]/.test(s)).toBe(false);
    const inner = JSON.parse(s) as Record<string, string>;
    expect(Object.keys(inner)).toEqual(['error_type', 'error_message', 'error_traceback', 'hostname', 'worker_id', 'runpod_version']);
    expect(inner.error_message).toBe('bad ünïcode input');
    expect(inner.error_traceback.endsWith('\n')).toBe(true);
    expect(inner.error_traceback).toContain('TypeError: bad ünïcode input');
    expect(inner).toMatchObject({ hostname: 'abc-64410f2a', worker_id: 'abc', runpod_version: '0.1.0' });
  });

  it('handles non-Error throws', () => {
    const inner = JSON.parse(resultFromError('boom', { hostname: 'unknown', workerId: 'unknown', version: 'v' }).error as string);
    expect(inner.error_type).toBe("<class 'Error'>");
    expect(inner.error_message).toBe('boom');
  });
});

describe('serialisation', () => {
  it('splices RawJson output verbatim', () => {
    const raw = Buffer.from('{"images": ["QUJD"], "info": "{\\"seed\\": 1}"}');
    const bytes = serializeResult({ output: new RawJson(raw) });
    expect(bytes.toString()).toBe('{"output":{"images": ["QUJD"], "info": "{\\"seed\\": 1}"}}');
    expect(JSON.parse(bytes.toString())).toEqual({ output: { images: ['QUJD'], info: '{"seed": 1}' } });
    expect(serializeResult({ output: new RawJson(Buffer.from('[1]')), stopPod: true }).toString()).toBe('{"output":[1],"stopPod":true}');
  });

  it('keeps non-ASCII as UTF-8 and throws on unserialisable output', () => {
    expect(serializeResult({ output: 'é' }).toString('utf8')).toBe('{"output":"é"}');
    expect(() => serializeResult({ output: 10n })).toThrow(TypeError);
  });
});
