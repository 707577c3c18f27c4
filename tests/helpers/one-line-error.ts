/**
 * The message of the error a check throws, checked to be of the expected class and on one line (the worker's
 * refusals end up in a job's one-line `error`).
 */
import { expect } from 'vitest';

type ErrorClass = abstract new (...args: never[]) => Error;

function oneLine(e: unknown, cls: ErrorClass): string {
  expect(e).toBeInstanceOf(cls);
  const m = (e as Error).message;
  expect(m).not.toMatch(/[\n\r\u2028\u2029]/);
  return m;
}

/** The message of the `cls` error `fn` throws; fails the test when it throws nothing. */
export function thrownMessage(fn: () => unknown, cls: ErrorClass, what = ''): string {
  try {
    fn();
  } catch (e) {
    return oneLine(e, cls);
  }
  throw new Error(`expected a ${cls.name}${what ? ` for ${what}` : ''}`);
}

/** The message of the `cls` error `p` rejects with; fails the test when it resolves. */
export async function rejectionMessage(p: Promise<unknown>, cls: ErrorClass, what = ''): Promise<string> {
  try {
    await p;
  } catch (e) {
    return oneLine(e, cls);
  }
  throw new Error(`expected a ${cls.name}${what ? ` for ${what}` : ''}`);
}
