/**
 * The per-job stop channel (runpod-python 1.10+ `rp_scale.monitor_stop_signals`): long-polls job-stop while the
 * worker runs and hands each id that comes back (a cancel, or an expired execution timeout on the platform) to
 * `stopJob`. See docs/runpod-protocol.md, "Per-job stop channel (job-stop, since 1.10.0)".
 */
import type { Log } from '../../log.js';
import type { Platform } from '../platform/platform.js';
import { pause, TOO_MANY_REQUESTS_PAUSE_MS } from './pause.js';

/** Least time between two job-stop poll starts, ms: the loop cannot spin on quick answers. */
export const STOP_POLL_FLOOR_MS = 1000;

/**
 * Polls until `signal` aborts: at least {@link STOP_POLL_FLOOR_MS} between poll starts, 5 s after a 429.
 * Resolves at once (with a warning) when the platform has no stop channel.
 */
export async function watchStopSignals(platform: Platform, log: Log, signal: AbortSignal, stopJob: (id: string) => void): Promise<void> {
  if (!platform.hasStopChannel) {
    log.warn('Stop channel could not be derived from the job-take URL; per-job stop is disabled for this worker.');
    return;
  }
  while (!signal.aborted) {
    const started = performance.now();
    const poll = await platform.stopSignals(signal);
    if (signal.aborted) break;
    let floorMs = STOP_POLL_FLOOR_MS;
    if (poll.kind === 'throttled') floorMs = TOO_MANY_REQUESTS_PAUSE_MS;
    else if (poll.kind === 'ids') for (const id of poll.ids) stopJob(id);
    else if (poll.kind === 'error') log.warn(poll.message);
    const rest = floorMs - (performance.now() - started);
    if (rest > 0) await pause(rest, signal);
  }
}
