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
import http from 'node:http';
import https from 'node:https';
import pRetry from 'p-retry';
import { readHeldIds } from './held-ids.js';
import { heartbeatUrl } from './urls.js';
import type { HeartbeatData, HeartbeatMessage, HeartbeatReport } from './heartbeat.js';

const data = workerData as HeartbeatData;
const port = parentPort;
if (!port) throw new Error('heartbeat-thread must run as a worker_thread');

/** The held ids from a message, while the list is too long for the shared memory. */
let messageIds: string[] | null = null;
let stopped = false;
let timer: NodeJS.Timeout | undefined;
const abort = new AbortController();

const headers = { 'user-agent': data.userAgent, ...(data.apiKey !== undefined ? { authorization: data.apiKey } : {}) };
const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/**
 * One GET of the ping URL; resolves with the status (the body is read and dropped). Node's own http here: this
 * thread is a V8 isolate of its own, and an HTTP library would add ~12 MiB to the worker's memory (npm run bench).
 */
function get(url: string, timeoutMs: number, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { headers, agent: url.startsWith('https:') ? agents.https : agents.http, timeout: timeoutMs, signal }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
  });
}

class PingStatusError extends Error {}

async function pingOnce(): Promise<void> {
  const url = heartbeatUrl(data.pingUrl, messageIds ?? readHeldIds(data.heldIds), data.version);
  let report: HeartbeatReport;
  try {
    const status = await pRetry(
      async () => {
        const status = await get(url, data.intervalMs * 2, abort.signal);
        if (status === 429 || status >= 500) throw new PingStatusError(`HTTP ${status}`);
        return status;
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
