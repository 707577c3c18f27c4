/**
 * The heartbeat loop, run in a `worker_thread` so that a busy main thread (parsing or posting a large
 * result, a CPU-bound handler) cannot delay it (docs/runpod-protocol.md, "Heartbeat / ping"; Q12 of "Quirks to decide on (faithful vs. fixed)").
 *
 * Protocol (docs/runpod-protocol.md, "Heartbeat / ping"): the first ping is sent at once, then one `sleep(interval)` after each ping completes;
 * `GET <ping URL>?job_id=<comma-joined ids>&runpod_version=<v>` with `Authorization: <key>` (raw);
 * timeout 2 × interval; up to 3 retries on transport errors, 429 and 5xx with 1 s / 2 s / 4 s backoff;
 * the answer is otherwise ignored.
 *
 * Messages from the parent: `{type: 'jobs', ids: string[]}` (the job ids held now), `{type: 'stop'}`.
 * Messages to the parent: `{type: 'ping', url, status}` or `{type: 'ping', url, error}` after each ping.
 */
import { parentPort, workerData } from 'node:worker_threads';
import http from 'node:http';
import https from 'node:https';
import axios from 'axios';
import pRetry from 'p-retry';
import { heartbeatUrl } from './urls.js';
import type { HeartbeatData, HeartbeatMessage, HeartbeatReport } from './heartbeat.js';

const data = workerData as HeartbeatData;
const port = parentPort;
if (!port) throw new Error('heartbeat-thread must run as a worker_thread');

let jobIds: string[] = [];
let stopped = false;
let timer: NodeJS.Timeout | undefined;
const abort = new AbortController();

const client = axios.create({
  headers: { 'User-Agent': data.userAgent, ...(data.apiKey !== undefined ? { Authorization: data.apiKey } : {}) },
  httpAgent: new http.Agent({ keepAlive: true }),
  httpsAgent: new https.Agent({ keepAlive: true }),
  timeout: data.intervalMs * 2,
  validateStatus: () => true,
  proxy: false,
});

class PingStatusError extends Error {}

async function pingOnce(): Promise<void> {
  const url = heartbeatUrl(data.pingUrl, jobIds, data.version);
  let report: HeartbeatReport;
  try {
    const status = await pRetry(
      async () => {
        const res = await client.get(url, { signal: abort.signal });
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
  if (m.type === 'jobs') jobIds = m.ids;
  else if (m.type === 'stop') {
    stopped = true;
    if (timer) clearTimeout(timer);
    abort.abort();
    process.exit(0); // ends this thread only

  }
});

void loop();
