/**
 * Main-thread side of the heartbeat (docs/runpod-protocol.md, "Heartbeat / ping"): starts `heartbeat-thread` in a `worker_thread`
 * and keeps it told which job ids this worker holds.
 */
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Log } from '../../log.js';
import { createHeldIds, writeHeldIds } from './held-ids.js';
import type { HeartbeatHandle } from './platform.js';

/** `workerData` of the heartbeat thread. */
export interface HeartbeatData {
  /** Ping URL with the worker id substituted (no `job_id`/`runpod_version` yet). */
  pingUrl: string;
  /** `RUNPOD_AI_API_KEY`, sent raw. */
  apiKey: string | undefined;
  /** Interval in ms (≥ 1000). */
  intervalMs: number;
  /** `runpod_version` value. */
  version: string;
  userAgent: string;
  /** The held job ids, written by the main thread (held-ids.ts). */
  heldIds: SharedArrayBuffer;
}

/**
 * Parent → thread messages: the held ids when they do not fit in the shared memory (`jobs`), back to the shared
 * memory (`shared`), or stop.
 */
export type HeartbeatMessage = { type: 'jobs'; ids: string[] } | { type: 'shared' } | { type: 'stop' };

/** Thread → parent report after each ping. */
export type HeartbeatReport = { type: 'ping'; url: string; status: number } | { type: 'ping'; url: string; error: string };

/**
 * Path of the compiled thread script. From `dist/` it sits beside this module; when this module runs from
 * TypeScript source (vitest), the compiled copy under `dist/` is used (`npm test` builds first).
 */
function threadScript(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  if (here.endsWith('.js')) return path.join(dir, 'heartbeat-thread.js');
  const built = path.resolve(dir, '../../../dist/handler/runpod/platform/heartbeat-thread.js');
  if (!existsSync(built)) throw new Error(`heartbeat thread not built: ${built} is missing (run npm run build)`);
  return built;
}

/** A running heartbeat. */
export class Heartbeat implements HeartbeatHandle {
  private readonly worker: Worker;
  private readonly heldIds: SharedArrayBuffer;
  private stopped = false;
  /** The last list went as a message (too long for the shared memory). */
  private overflowed = false;
  /** Number of pings the thread reported (answered or failed). */
  pings = 0;

  private constructor(data: Omit<HeartbeatData, 'heldIds'>, log: Log) {
    this.heldIds = createHeldIds();
    this.worker = new Worker(threadScript(), { workerData: { ...data, heldIds: this.heldIds } satisfies HeartbeatData });
    this.worker.on('message', (r: HeartbeatReport) => {
      this.pings++;
      if ('error' in r) log.warn(`Ping Request Error: ${r.error}`);
      else log.trace(`Heartbeat Sent | URL: ${r.url} | Status: ${r.status}`);
    });
    this.worker.on('error', (e) => log.error(`Heartbeat thread failed: ${e.message}`));
  }

  /**
   * Starts the heartbeat, or returns null (and logs why, as the SDK does, docs/runpod-protocol.md, "What happens when variables are absent") when the API key,
   * the pod id or the ping URL is missing.
   */
  static start(opts: { pingUrl: string | null; apiKey: string | undefined; podId: string | undefined; intervalMs: number; version: string; userAgent: string }, log: Log): Heartbeat | null {
    if (!opts.apiKey) {
      log.info('Not running on Runpod, pings will not be sent.');
      return null;
    }
    if (!opts.podId) {
      log.debug('Not deployed on Runpod serverless, pings will not be sent.');
      return null;
    }
    if (!opts.pingUrl) {
      log.error('Ping URL not set, cannot start ping.');
      return null;
    }
    return new Heartbeat(
      { pingUrl: opts.pingUrl, apiKey: opts.apiKey, intervalMs: opts.intervalMs, version: opts.version, userAgent: opts.userAgent },
      log,
    );
  }

  /** Tells the thread which job ids this worker holds now (sent as `job_id` on the next ping). */
  setJobs(ids: readonly string[]): void {
    if (this.stopped) return;
    // Shared memory: no message per change. A list too long for it goes as a message (the thread then uses that).
    if (!writeHeldIds(this.heldIds, ids)) {
      this.overflowed = true;
      this.worker.postMessage({ type: 'jobs', ids: [...ids] } satisfies HeartbeatMessage);
    } else if (this.overflowed) {
      this.overflowed = false;
      this.worker.postMessage({ type: 'shared' } satisfies HeartbeatMessage);
    }
  }

  /** Stops the thread (an in-flight ping is aborted). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'stop' } satisfies HeartbeatMessage);
    const t = setTimeout(() => void this.worker.terminate(), 1000);
    await exited;
    clearTimeout(t);
  }
}
