/**
 * Waiting in tests: for an event, with a deadline, never for a fixed time.
 *
 * A test that sleeps a fixed time and then asserts a count or an order fails as soon as the machine is slow (a
 * busy CI runner, two suites at once). Wait instead until what the test needs has happened, with a deadline far
 * above the normal time, and name what was awaited so that a timeout says what did not happen. A negative check
 * ("no job-take while A1111 is down") waits for a positive event that must come after the window (the next
 * heartbeat, a later request), then asserts the absence.
 */

/** Resolves after `ms`. Only for pacing a test's own actions, never before an assertion on a count or order. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Options of {@link until}. */
export interface UntilOptions {
  /** What is awaited, for the timeout's message ("two pings after A1111 died"). */
  what: string;
  /** Deadline, ms; default 10 000 (far above any wait of these tests on an idle machine). */
  timeoutMs?: number;
  /** Poll interval, ms; default 10. */
  everyMs?: number;
  /** Describes the current state for the timeout's message (e.g. the pings seen so far). */
  state?: () => unknown;
}

/**
 * Polls `cond` until it returns a truthy value and returns that value; throws after `timeoutMs` naming `what`
 * (and the `state`, if given). `cond` may be async (e.g. read a child process's request log over HTTP); an
 * error it throws ends the wait at once.
 */
export async function until<T>(cond: () => T | Promise<T>, opts: UntilOptions | string): Promise<NonNullable<T>> {
  const o: UntilOptions = typeof opts === 'string' ? { what: opts } : opts;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const everyMs = o.everyMs ?? 10;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) {
      let state = '';
      if (o.state) {
        try {
          state = `; state: ${JSON.stringify(o.state())}`;
        } catch (e) {
          state = `; state: (not readable: ${String(e)})`;
        }
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${o.what}${state}`);
    }
    await sleep(everyMs);
  }
}

/** Epoch ms with sub-ms precision, the clock of the platform's and the ping recorder's records. */
export const now = (): number => performance.timeOrigin + performance.now();

/** The final job states of RunPod's `/status` (docs "Job states"). */
export const FINAL_STATES: readonly string[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

/**
 * Polls `status(id)` (e.g. runpod-sdk's `endpoint.status`) every 50 ms until the job is in a final state; returns
 * that status body. Throws after `timeoutMs` (default 30 000) naming the last state seen.
 */
export async function untilFinal<T extends { status: string }>(status: (id: string) => Promise<unknown>, id: string, timeoutMs = 30_000): Promise<T> {
  let last = '';
  return until(
    async () => {
      const s = (await status(id)) as T;
      last = s.status;
      return FINAL_STATES.includes(s.status) ? s : null;
    },
    { timeoutMs, everyMs: 50, what: `job ${id} to be final`, state: () => last },
  );
}
