/**
 * A1111's and Forge's error bodies → one error line (handler/a1111/errors.ts; docs/a1111-api.md, "Errors", "Forge and reForge").
 */
import { describe, expect, it } from 'vitest';
import { formatA1111Error } from '../../handler/a1111/errors.js';

const fmt = (status: number, body: unknown, route = '/sdapi/v1/txt2img') =>
  formatA1111Error(status, 'POST', route, typeof body === 'string' ? body : JSON.stringify(body));

describe('A1111 v1.10.1 bodies (api_middleware: error, detail, body, errors)', () => {
  it('keeps the worker\'s format: "<error>: <detail> <errors>"', () => {
    const oom = fmt(500, { error: 'OutOfMemoryError', detail: '', body: '', errors: 'CUDA out of memory. Tried to allocate 2.00 GiB' });
    expect(oom.message).toBe('A1111 500 on POST /sdapi/v1/txt2img: OutOfMemoryError CUDA out of memory. Tried to allocate 2.00 GiB');
    expect(oom.fields).toEqual({ error: 'OutOfMemoryError', errors: 'CUDA out of memory. Tried to allocate 2.00 GiB' });
    const http = fmt(404, { error: 'HTTPException', detail: 'Init image not found', body: '', errors: '404: Init image not found' }, '/sdapi/v1/img2img');
    expect(http.message).toBe('A1111 404 on POST /sdapi/v1/img2img: HTTPException: Init image not found 404: Init image not found');
    expect(fmt(500, { error: 'HTTPException', detail: 'Invalid encoded image', body: '', errors: '' }).message).toBe(
      'A1111 500 on POST /sdapi/v1/txt2img: HTTPException: Invalid encoded image',
    );
  });

  it('pydantic 1 validation errors (422): "loc: msg" items', () => {
    const r = fmt(422, { detail: [{ loc: ['body', 'steps'], msg: 'value is not a valid integer', type: 'type_error.integer' }, { loc: ['body', 'width'], msg: 'field required', type: 'value_error.missing' }] });
    expect(r.message).toBe('A1111 422 on POST /sdapi/v1/txt2img: steps: value is not a valid integer; width: field required');
    expect(Array.isArray(r.fields.detail)).toBe(true);
  });
});

describe('Forge bodies', () => {
  it('other exceptions ({error, detail, body, message}): the message is kept as "<error>: <message>"', () => {
    const oom = fmt(500, { error: 'OutOfMemoryError', detail: '', body: '', message: 'CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB' });
    expect(oom.message).toBe(
      'A1111 500 on POST /sdapi/v1/txt2img: OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB',
    );
    expect(oom.fields).toEqual({ error: 'OutOfMemoryError', errors: 'CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB' });
    expect(fmt(500, { error: 'KeyError', detail: '', body: '', message: "'sd_model_checkpointx'" }, '/sdapi/v1/options').message).toBe(
      "A1111 500 on POST /sdapi/v1/options: KeyError: 'sd_model_checkpointx'",
    );
    expect(fmt(500, { error: 'RuntimeError', detail: '', body: '', message: '' }).message).toBe('A1111 500 on POST /sdapi/v1/txt2img: RuntimeError');
  });

  it("HTTPExceptions come as FastAPI's plain {detail}", () => {
    expect(fmt(404, { detail: 'Init image not found' }, '/sdapi/v1/img2img').message).toBe('A1111 404 on POST /sdapi/v1/img2img: Init image not found');
    expect(fmt(422, { detail: "Script 'nope' not found" }).fields).toEqual({ detail: "Script 'nope' not found" });
  });

  it('pydantic 2 validation errors (422) never show the input sent', () => {
    const big = 'A'.repeat(5000);
    const r = fmt(422, {
      detail: [
        { type: 'int_parsing', loc: ['body', 'steps'], msg: 'Input should be a valid integer, unable to parse string as an integer', input: 'abc', url: 'https://errors.pydantic.dev/2.9/v/int_parsing' },
        { type: 'string_type', loc: ['body', 'init_images', 0], msg: 'Input should be a valid string', input: big },
        { type: 'greater_than_equal', loc: ['body', 'width'], msg: 'Input should be greater than or equal to 1', input: 0, ctx: { ge: 1 } },
      ],
    });
    expect(r.message).toBe(
      'A1111 422 on POST /sdapi/v1/txt2img: steps: Input should be a valid integer, unable to parse string as an integer; init_images.0: Input should be a valid string; width: Input should be greater than or equal to 1',
    );
    expect(r.message).not.toContain('abc');
  });
});

describe('other bodies', () => {
  it("FastAPI's 404/405 and non-JSON answers", () => {
    expect(fmt(404, { detail: 'Not Found' }).message).toBe('A1111 404 on POST /sdapi/v1/txt2img: Not Found');
    expect(formatA1111Error(405, 'GET', '/sdapi/v1/txt2img', '{"detail":"Method Not Allowed"}').message).toBe('A1111 405 on GET /sdapi/v1/txt2img: Method Not Allowed');
    expect(formatA1111Error(502, 'GET', '/x', '<html>Bad gateway\n</html>').message).toBe('A1111 502 on GET /x: <html>Bad gateway </html>');
    expect(formatA1111Error(500, 'GET', '/x', '').message).toBe('A1111 500 on GET /x: (empty body)');
    expect(formatA1111Error(500, 'GET', '/x', 'x'.repeat(500)).message).toBe(`A1111 500 on GET /x: ${'x'.repeat(200)}`);
    expect(formatA1111Error(500, 'GET', '/x', Buffer.from('[1,2]')).message).toBe('A1111 500 on GET /x: [1,2]');
    expect(fmt(500, {}).message).toBe('A1111 500 on POST /sdapi/v1/txt2img: {}');
  });

  it('keeps every message on one line', () => {
    const r = fmt(500, { error: 'RuntimeError', detail: '', body: '', errors: 'first line\n  second line\r\nthird' });
    expect(r.message).toBe('A1111 500 on POST /sdapi/v1/txt2img: RuntimeError first line second line third');
    const forge = fmt(500, { error: 'ValueError', detail: '', body: '', message: 'a\nb' });
    expect(forge.message).toBe('A1111 500 on POST /sdapi/v1/txt2img: ValueError: a b');
  });
});
