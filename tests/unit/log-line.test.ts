/**
 * Log lines and the log level as runpod-python 1.12 writes and reads them (`runpod/serverless/modules/rp_logger.py`
 * and `runpod/serverless/__init__.py` at tag v1.12.0). Expected JSON texts were produced by CPython's `json.dumps`.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../handler/config.js';
import { createLogger, resolveLogLevel, withBatchId, type LogOptions } from '../../handler/log.js';
import { batchPrefix, jsonLine, plainLine, pyJsonDumps } from '../../handler/log-line.js';

function capture(opts: Omit<LogOptions, 'out'>): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  let out = '';
  const sink = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
  const log = createLogger({ ...opts, out: sink });
  return { log, lines: () => out.split('\n').filter((l) => l !== '') };
}

describe('JSON lines (RUNPOD_ENDPOINT_ID set): json.dumps({"requestId", "message", "level"})', () => {
  it('keys in runpod-python order, Python separators, null without a job id', () => {
    expect(jsonLine('INFO', 'job-1', 'Started.')).toBe('{"requestId": "job-1", "message": "Started.", "level": "INFO"}');
    expect(jsonLine('WARN', null, 'x')).toBe('{"requestId": null, "message": "x", "level": "WARN"}');
    expect(Object.keys(JSON.parse(jsonLine('ERROR', undefined, 'y')) as object)).toEqual(['requestId', 'message', 'level']);
  });
  it('escapes as json.dumps(ensure_ascii=True): non-ASCII, DEL and control characters as \\uXXXX, astral as surrogate pairs', () => {
    const msg = 'héllo "q" \\ \n\t\x01\x7f 😀 é';
    // CPython: json.dumps({"requestId": None, "message": msg, "level": "INFO"})
    const python = String.raw`{"requestId": null, "message": "h\u00e9llo \"q\" \\ \n\t\u0001\u007f \ud83d\ude00 \u00e9", "level": "INFO"}`;
    expect(jsonLine('INFO', null, msg)).toBe(python);
    expect((JSON.parse(python) as { message: string }).message).toBe(msg);
  });
  it("the worker's extra fields follow the three keys and cannot replace them", () => {
    // CPython: json.dumps({..., "extra": {"a": [1, 2.5, True, None], "b": {}}, "c": []})
    expect(jsonLine('DEBUG', 'j-1', '[batchId=b-9] Started.', { extra: { a: [1, 2.5, true, null], b: {} }, c: [], level: 'X', requestId: 'other' })).toBe(
      '{"requestId": "j-1", "message": "[batchId=b-9] Started.", "level": "DEBUG", "extra": {"a": [1, 2.5, true, null], "b": {}}, "c": []}',
    );
    expect(pyJsonDumps({ n: Number.NaN, u: undefined })).toBe('{"n": null}');
  });
});

describe('human-readable lines (no RUNPOD_ENDPOINT_ID): f"{level.ljust(7)}| {job_id} | {message}"', () => {
  it('pads the level to 7 and adds the job part only with a job id', () => {
    expect(plainLine('INFO', 'job-1', 'Started.')).toBe('INFO   | job-1 | Started.');
    expect(plainLine('ERROR', null, 'boom')).toBe('ERROR  | boom');
    expect(plainLine('DEBUG', '', 'x')).toBe('DEBUG  | x');
  });
});

describe('batch id prefix (runpod-python 1.12: "[batchId=<id>] " on every line logged while a job with a batchId runs)', () => {
  it('truthy ids only', () => {
    expect(batchPrefix('b-1')).toBe('[batchId=b-1] ');
    expect(batchPrefix(7)).toBe('[batchId=7] ');
    for (const none of [undefined, null, '', 0]) expect(batchPrefix(none)).toBe('');
  });
  it('applies inside withBatchId, across awaits, with or without a job id, and to that job only', async () => {
    const { log, lines } = capture({ level: 'TRACE', json: true });
    log.info('before');
    const inJob = withBatchId('batch-7', async () => {
      log.debug('Handling Job', 'j-1');
      await new Promise<void>((r) => setImmediate(r));
      log.info('no job id here');
      await Promise.resolve();
      log.trace('after await', 'j-1');
    });
    const other = withBatchId(undefined, async () => {
      await new Promise<void>((r) => setImmediate(r));
      log.info('other job', 'j-2');
    });
    await Promise.all([inJob, other]);
    log.info('after');
    const got = lines().map((l) => JSON.parse(l) as { requestId: string | null; message: string });
    expect(got[0]).toEqual({ requestId: null, message: 'before', level: 'INFO' });
    expect(got.at(-1)).toEqual({ requestId: null, message: 'after', level: 'INFO' });
    // The two jobs interleave; each line carries its own job's prefix.
    expect(got).toHaveLength(6);
    expect(got).toEqual(expect.arrayContaining([
      { requestId: 'j-1', message: '[batchId=batch-7] Handling Job', level: 'DEBUG' },
      { requestId: null, message: '[batchId=batch-7] no job id here', level: 'INFO' },
      { requestId: 'j-2', message: 'other job', level: 'INFO' },
      { requestId: 'j-1', message: '[batchId=batch-7] after await', level: 'TRACE' },
    ]));
  });
  it('a job without a batch id started inside another job\'s scope gets no prefix', async () => {
    const { log, lines } = capture({ level: 'INFO', json: true });
    await withBatchId('outer', async () => {
      await withBatchId(undefined, async () => {
        await Promise.resolve();
        log.info('inner', 'j-2');
      });
      log.info('outer', 'j-1');
    });
    expect(lines().map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['inner', '[batchId=outer] outer']);
  });
  it('in human-readable lines the prefix follows the job id; it counts towards the 4096-character truncation', () => {
    const { log, lines } = capture({ level: 'INFO', json: false });
    withBatchId('b', () => log.warn('careful', 'j-1'));
    expect(lines()).toEqual(['WARN   | j-1 | [batchId=b] careful']);
    const j = capture({ level: 'INFO', json: true });
    withBatchId('b', () => j.log.info('x'.repeat(4096)));
    const msg = (JSON.parse(j.lines()[0]!) as { message: string }).message;
    // "[batchId=b] " (12 characters) + 4096 = 4108: 12 cut from the middle, the prefix kept at the start.
    expect(msg).toBe(`[batchId=b] ${'x'.repeat(2036)}\n...TRUNCATED 12 CHARACTERS...\n${'x'.repeat(2048)}`);
  });
});

describe('level filter', () => {
  it('prints the level and above; NOTSET prints nothing', () => {
    const e = capture({ level: 'ERROR', json: false });
    e.log.trace('t');
    e.log.debug('d');
    e.log.info('i');
    e.log.warn('w');
    e.log.error('e');
    expect(e.lines()).toEqual(['ERROR  | e']);
    const n = capture({ level: 'NOTSET', json: true });
    n.log.error('e');
    expect(n.lines()).toEqual([]);
  });
});

describe('the log level: --rp_log_level, then RUNPOD_LOG_LEVEL, then RUNPOD_DEBUG_LEVEL, then DEBUG', () => {
  it('resolveLogLevel follows runpod-python 1.12', () => {
    expect(resolveLogLevel(undefined, undefined, undefined)).toBe('DEBUG');
    expect(resolveLogLevel(undefined, undefined, 'warn')).toBe('WARN');
    expect(resolveLogLevel(undefined, 'ERROR', 'TRACE')).toBe('ERROR');
    expect(resolveLogLevel('info', 'ERROR', 'TRACE')).toBe('INFO');
    // An empty flag is ignored, as `if config["rp_args"]["rp_log_level"]:` is false for it.
    expect(resolveLogLevel('', 'ERROR', undefined)).toBe('ERROR');
  });
  it('the variable that wins is the one checked and named on a bad value; the environment is checked even under the flag', () => {
    expect(() => resolveLogLevel(undefined, 'WARNING', 'INFO')).toThrow(/^RUNPOD_LOG_LEVEL: invalid log level "WARNING"/);
    expect(resolveLogLevel(undefined, 'INFO', 'WARNING')).toBe('INFO');
    expect(() => resolveLogLevel(undefined, '', 'INFO')).toThrow(/^RUNPOD_LOG_LEVEL: invalid log level ""/);
    expect(() => resolveLogLevel('INFO', 'loud', undefined)).toThrow(/^RUNPOD_LOG_LEVEL: /);
    expect(() => resolveLogLevel('loud', 'INFO', undefined)).toThrow(/^--rp_log_level: invalid log level "loud"/);
  });
  it('loadConfig reads RUNPOD_LOG_LEVEL before RUNPOD_DEBUG_LEVEL', () => {
    expect(loadConfig([], { RUNPOD_LOG_LEVEL: 'error', RUNPOD_DEBUG_LEVEL: 'debug' }).logLevel).toBe('ERROR');
    expect(loadConfig([], { RUNPOD_DEBUG_LEVEL: 'info' }).logLevel).toBe('INFO');
    expect(loadConfig(['--rp_log_level', 'WARN'], { RUNPOD_LOG_LEVEL: 'ERROR' }).logLevel).toBe('WARN');
    expect(() => loadConfig([], { RUNPOD_LOG_LEVEL: 'WARNING' })).toThrow(/^RUNPOD_LOG_LEVEL: invalid log level "WARNING"/);
  });
});
