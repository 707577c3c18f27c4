/**
 * Retries on p-retry's schedule with the first attempt made directly. Nearly every job-take and result post succeeds
 * at once, and p-retry's set-up per call lay between a job-take's answer and the job's start in the bench's timeline
 * (`npm run bench`, per-job cost). After a failure the retries keep p-retry's delays (min, 2 × min, … up to max), its
 * numbering of attempts and its give-up.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';

/** How {@link firstThenRetry} retries. */
export interface FirstThenRetryOptions {
  /** Retries after the first attempt (Infinity: until one succeeds or `signal` aborts). */
  retries: number;
  /** Delay before the first retry, ms; doubled before each next one. */
  minDelayMs: number;
  /** Cap of the delay, ms. */
  maxDelayMs: number;
  /** Ends the waiting between attempts (rejects) when it aborts. */
  signal?: AbortSignal;
  /** Whether a failure is retried; any other rejects at once. */
  shouldRetry: (error: unknown) => boolean;
  /** Called after each failed attempt, before `shouldRetry`: its number (1 = the first) and the retries left. */
  onFailedAttempt: (error: unknown, attemptNumber: number, retriesLeft: number) => void;
}

/**
 * Runs `attempt` until it resolves, as {@link FirstThenRetryOptions} says.
 * @returns what the succeeding attempt resolved with
 * @throws the last attempt's error (not retried, or no retries left), or the abort of `signal` while waiting
 */
export async function firstThenRetry<T>(attempt: () => Promise<T>, o: FirstThenRetryOptions): Promise<T> {
  try {
    return await attempt();
  } catch (e) {
    o.onFailedAttempt(e, 1, o.retries);
    if (o.retries <= 0 || !o.shouldRetry(e)) throw e;
  }
  await sleep(Math.min(o.minDelayMs, o.maxDelayMs), undefined, o.signal ? { signal: o.signal } : undefined);
  return pRetry(attempt, {
    retries: o.retries - 1,
    factor: 2,
    minTimeout: o.minDelayMs * 2,
    maxTimeout: o.maxDelayMs,
    ...(o.signal ? { signal: o.signal } : {}),
    shouldRetry: ({ error }) => o.shouldRetry(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => o.onFailedAttempt(error, attemptNumber + 1, retriesLeft),
  });
}
