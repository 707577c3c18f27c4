/**
 * Runs the built worker (`dist/handler/main.js`) as a child process, as RunPod would.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { WORKER_NODE_FLAGS, withWorkerMallocEnv } from '../../handler/runpod/worker/launch.js';
import { ROOT } from './root.js';

export { ROOT };
export const MAIN = path.join(ROOT, 'dist/handler/main.js');

/** A running worker process with its output collected. */
export interface WorkerProcess {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts the worker (launched as `docker/start.sh` does: {@link WORKER_NODE_FLAGS}, `WORKER_MALLOC_ENV`) with exactly `env` (plus PATH, and `A1111_WARMUP=false` unless `env` sets it) and `args`. */
export function startWorker(env: Record<string, string>, args: string[] = [], cwd = ROOT): WorkerProcess {
  // Warm-up off unless a test asks for it: it adds a txt2img call before the first job (tested on its own).
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, MAIN, ...args], { cwd, env: withWorkerMallocEnv({ PATH: process.env.PATH ?? '', A1111_WARMUP: 'false', ...env }) });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Starts the worker with `--rp_serve_api --rp_api_port 0` and waits until its local endpoint is listening. */
export async function startServeApi(env: Record<string, string>, args: string[] = []): Promise<WorkerProcess & { url: string }> {
  const w = startWorker(env, ['--rp_serve_api', '--rp_api_port', '0', ...args]);
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (): void => {
      const m = /Local RunPod endpoint at (http:\/\/[^\s]+?) /.exec(w.stdout());
      if (m) {
        w.child.stdout.off('data', onData);
        resolve(m[1]!);
      }
    };
    w.child.stdout.on('data', onData);
    void w.exited.then((code) => reject(new Error(`worker exited (${code}) before its endpoint was up:\n${w.stdout()}\n${w.stderr()}`)));
  });
  return { ...w, url };
}
