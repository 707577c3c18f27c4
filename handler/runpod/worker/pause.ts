/** Waiting in the worker loop: an abortable pause, and the pause RunPod asks for with a 429. */
import { setTimeout as sleepTimer } from 'node:timers/promises';

/** Pause after a 429 on job-take or job-stop (runpod-python `rp_job.get_job`: `asyncio.sleep(5)`), ms. */
export const TOO_MANY_REQUESTS_PAUSE_MS = 5_000;

/** Sleeps `ms`, cut short when `signal` aborts. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleepTimer(ms, undefined, { signal });
  } catch {
    /* stopped */
  }
}
