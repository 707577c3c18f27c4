/**
 * The heartbeat loop, run in a `worker_thread` so that a busy main thread (parsing or posting a large
 * result, a CPU-bound handler) cannot delay it (docs/runpod-protocol.md, "Heartbeat / ping"; Q12 of "Quirks to decide on (faithful vs. fixed)").
 *
 * Protocol (docs/runpod-protocol.md, "Heartbeat / ping"): the first ping is sent at once, then one `sleep(interval)` after each ping completes;
 * `GET <ping URL>?job_id=<comma-joined ids>&runpod_version=<v>` with `Authorization: <key>` (raw);
 * timeout 2 × interval; up to 3 retries on transport errors, 429 and 5xx with 1 s / 2 s / 4 s backoff;
 * the answer is otherwise ignored.
 *
 * The held job ids are read from shared memory at each ping (held-ids.ts); messages from the parent: `{type: 'jobs',
 * ids}` (a list too long for the shared memory), `{type: 'shared'}` (back to it), `{type: 'stop'}`.
 * Messages to the parent: `{type: 'ping', url, status}` or `{type: 'ping', url, error}` after each ping.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pRetry from 'p-retry';
import { readHeldIds } from './held-ids.js';
import { heartbeatUrl } from './urls.js';
import type { HeartbeatData, HeartbeatMessage, HeartbeatReport } from './heartbeat.js';
import { PlatformClient } from './wire.js';

const data = workerData as HeartbeatData;
const port = parentPort;
if (!port) throw new Error('heartbeat-thread must run as a worker_thread');

/** The held ids from a message, while the list is too long for the shared memory. */
let messageIds: string[] | null = null;
let stopped = false;
let timer: NodeJS.Timeout | undefined;
const abort = new AbortController();

const client = new PlatformClient(data.apiKey, data.userAgent);

class PingStatusError extends Error {}

async function pingOnce(): Promise<void> {
  const url = heartbeatUrl(data.pingUrl, messageIds ?? readHeldIds(data.heldIds), data.version);
  let report: HeartbeatReport;
  try {
    const status = await pRetry(
      async () => {
        const res = await client.get(url, { signal: abort.signal, timeoutMs: data.intervalMs * 2 });
        if (res.status === 429 || res.status >= 500) throw new PingStatusError(`HTTP ${res.status}`);
        return res.status;
      },
      { retries: 3, factor: 2, minTimeout: 1000, maxTimeout: 4000, signal: abort.signal },
    );
    report = { type: 'ping', url, status };
  } catch (e) {
    report = { type: 'ping', url, error: (e as Error).message };
  }
  if (!stopped) port!.postMessage(report);
}

async function loop(): Promise<void> {
  if (stopped) return;
  await pingOnce();
  if (!stopped) timer = setTimeout(() => void loop(), data.intervalMs);
}

port.on('message', (m: HeartbeatMessage) => {
  if (m.type === 'jobs') messageIds = m.ids;
  else if (m.type === 'shared') messageIds = null;
  else if (m.type === 'stop') {
    stopped = true;
    if (timer) clearTimeout(timer);
    abort.abort();
    process.exit(0); // ends this thread only

  }
});

void loop();
