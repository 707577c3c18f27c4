/**
 * A loopback HTTP server that runs in its own worker_thread and records when each request arrived.
 * Used to check the heartbeat's timing while the test's main thread is deliberately blocked: a server on
 * the main thread could not even accept the pings then.
 */
import { Worker } from 'node:worker_threads';

/** One recorded request. */
export interface PingHit {
  /** Epoch ms taken in the server thread when the request arrived. */
  at: number;
  url: string;
  authorization: string | undefined;
}

const SERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const counter = new Int32Array(workerData.counter);
const server = http.createServer((req, res) => {
  parentPort.postMessage({ type: 'hit', hit: { at: performance.timeOrigin + performance.now(), url: req.url, authorization: req.headers.authorization } });
  Atomics.add(counter, 0, 1);
  req.resume();
  req.on('end', () => { res.statusCode = 200; res.end(''); });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'listening', port: server.address().port }));
parentPort.on('message', (m) => { if (m === 'close') server.close(() => process.exit(0)); });
`;

/**
 * Starts the recorder; `hits` fills as the thread reports (reports queue while the main thread is blocked).
 * `count()` is the number of requests so far, readable even from a blocked main thread (a shared counter).
 */
export async function startPingRecorder(): Promise<{ url: string; hits: PingHit[]; count(): number; close(): Promise<void> }> {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(SERVER, { eval: true, workerData: { counter: counter.buffer } });
  const hits: PingHit[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    worker.on('message', (m: { type: string; port?: number; hit?: PingHit }) => {
      if (m.type === 'listening') resolve(m.port!);
      else if (m.type === 'hit') hits.push(m.hit!);
    });
    worker.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    count: () => Atomics.load(counter, 0),
    async close() {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.postMessage('close');
      await exited;
    },
  };
}
