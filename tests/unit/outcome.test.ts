/**
 * The one table of RunPod outcomes (handler/errors/outcome.ts): each error class, and A1111Error by kind, to its
 * outcome; the FAILED output and log line of each; a bug rethrown.
 */
import { describe, expect, it } from 'vitest';
import {
  A1111Error,
  A1111ExitedError,
  BucketConfigError,
  ConfigError,
  ImageRefusal,
  JobInputError,
  OpenApiError,
  S3UploadError,
  type A1111ErrorKind,
} from '../../handler/errors/index.js';
import { failedJobOutput, outcomeOf, type FailureContext } from '../../handler/errors/outcome.js';

const a1111 = (kind: A1111ErrorKind) => new A1111Error(`A1111 ${kind} on POST /sdapi/v1/txt2img`, kind, null, 'POST', '/sdapi/v1/txt2img');

/** A failure context whose log keeps its lines; `others`: whether another backend is ready. */
function context(others: boolean): FailureContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    jobId: 'job-1',
    lines,
    log: { warn: (m, id) => lines.push(`WARN ${id} ${m}`), error: (m, id) => lines.push(`ERROR ${id} ${m}`) },
    otherBackendReady: () => others,
  };
}

describe('outcomeOf', () => {
  it('maps each error class, and A1111Error by kind', () => {
    expect(outcomeOf(new JobInputError('x'))).toBe('refused');
    expect(outcomeOf(new ImageRefusal('x'))).toBe('refused');
    expect(outcomeOf(new BucketConfigError('x'))).toBe('refused');
    expect(outcomeOf(new S3UploadError('x'))).toBe('failed');
    expect(outcomeOf(new A1111ExitedError(42, 'http://127.0.0.1:3000'))).toBe('backend-down');
    expect(outcomeOf(a1111('unreachable'))).toBe('backend-down');
    expect(outcomeOf(a1111('timeout'))).toBe('timeout');
    for (const kind of ['http', 'bad_response', 'aborted'] as const) expect(outcomeOf(a1111(kind))).toBe('failed');
  });

  it('calls anything else a bug', () => {
    for (const e of [new Error('x'), new TypeError('x'), new ConfigError('x'), new OpenApiError('x'), 'a string', undefined]) expect(outcomeOf(e)).toBe('bug');
  });
});

describe('failedJobOutput', () => {
  it('a refusal: FAILED with the message, logged as a warning', () => {
    const ctx = context(false);
    expect(failedJobOutput(new JobInputError('input.preview: 1 is not allowed'), ctx)).toEqual({ error: 'input.preview: 1 is not allowed' });
    expect(ctx.lines).toEqual(['WARN job-1 Job refused: input.preview: 1 is not allowed']);
  });

  it('an A1111 failure: FAILED with the message, logged as an error; a timeout does not stop the pod', () => {
    for (const kind of ['http', 'timeout', 'bad_response', 'aborted'] as const) {
      const ctx = context(false);
      expect(failedJobOutput(a1111(kind), ctx)).toEqual({ error: `A1111 ${kind} on POST /sdapi/v1/txt2img` });
      expect(ctx.lines).toEqual([`ERROR job-1 A1111 ${kind} on POST /sdapi/v1/txt2img`]);
    }
  });

  it('the backend gone: FAILED and stopPod, unless another backend of the pod is ready', () => {
    expect(failedJobOutput(a1111('unreachable'), context(false))).toEqual({ error: 'A1111 unreachable on POST /sdapi/v1/txt2img', refresh_worker: true });
    expect(failedJobOutput(a1111('unreachable'), context(true))).toEqual({ error: 'A1111 unreachable on POST /sdapi/v1/txt2img' });
    const exited = new A1111ExitedError(42, 'http://127.0.0.1:3000');
    expect(failedJobOutput(exited, context(false))).toEqual({ error: exited.message, refresh_worker: true });
  });

  it('rethrows a bug, without a log line', () => {
    const ctx = context(false);
    const bug = new TypeError('cannot read properties of undefined');
    expect(() => failedJobOutput(bug, ctx)).toThrow(bug);
    expect(ctx.lines).toEqual([]);
  });
});
