/**
 * `npm run playground`: the playground page on this machine, with no GPU and no network.
 *
 * 1. starts the bundled A1111 simulator on a free loopback port (100 ms per sampling step, so that a 20-step image
 *    takes 2 s and the progress bar and live previews have something to show);
 * 2. starts the worker with `--rp_serve_api` against it (the local RunPod endpoint, which serves the page at `/`,
 *    plus the real worker loop), progress polled every 250 ms and previews every 500 ms unless the environment
 *    sets `PROGRESS_INTERVAL_MS` / `PREVIEW_INTERVAL_MS`;
 * 3. prints the page's URL and runs until Ctrl-C (SIGINT) or SIGTERM, which stops the worker, then the simulator.
 *
 * Arguments are passed to the worker: `npm run playground -- --rp_api_port 8001` (default port 8000, RunPod's).
 * Set `A1111_URL` to use a real A1111 (started with `--api`) instead of the simulator.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKER_NODE_FLAGS, withWorkerMallocEnv } from '../handler/runpod/worker/launch.js';
import { startSimulator } from '../sim/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Simulated time per sampling step, ms. */
const STEP_MS = 100;

async function main(): Promise<number> {
  const sim = process.env.A1111_URL ? undefined : await startSimulator({ port: 0, stepMs: STEP_MS });
  const a1111 = sim?.url ?? process.env.A1111_URL!;
  console.log(sim ? `A1111 simulator listening on ${a1111} (${STEP_MS} ms per step)` : `Using the A1111 at ${a1111}`);
  const args = process.argv.slice(2);
  const worker = spawn(process.execPath, [...WORKER_NODE_FLAGS, path.join(root, 'dist/handler/main.js'), '--rp_serve_api', ...args], {
    cwd: root,
    env: withWorkerMallocEnv({
      ...process.env,
      A1111_URL: a1111,
      PROGRESS_INTERVAL_MS: process.env.PROGRESS_INTERVAL_MS ?? '250',
      PREVIEW_INTERVAL_MS: process.env.PREVIEW_INTERVAL_MS ?? '500',
      RUNPOD_DEBUG_LEVEL: process.env.RUNPOD_DEBUG_LEVEL ?? 'INFO',
    }),
    // The worker's stdin is not the terminal: Ctrl-C reaches both processes as one group, and this script stops
    // the worker itself (SIGTERM) so that the order is worker first, simulator last.
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the worker and the simulator…');
    if (worker.exitCode === null) worker.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  let out = '';
  let shown = false;
  worker.stdout.on('data', (c: Buffer) => {
    process.stdout.write(c);
    if (shown) return;
    out += c.toString();
    const m = /Local RunPod endpoint at (http:\/\/[^\s]+?) /.exec(out);
    if (m) {
      shown = true;
      out = '';
      console.log(`\n  Playground: ${m[1]}/\n  API docs:   ${m[1]}/docs\n  RunPod API: ${m[1]}/v2/local/run\n\n  Ctrl-C stops it.\n`);
    }
  });
  const code = await exited;
  await sim?.close();
  if (!shown) console.error(`the worker exited (${code}) before its endpoint was up`);
  return stopping ? 0 : (code ?? 1);
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
