/**
 * The local stack most end-to-end tests drive: the A1111 simulator as a process, the worker with `--rp_serve_api`
 * pointed at it, and a `runpod-sdk` endpoint on the worker's local RunPod API.
 */
import runpodSdk from 'runpod-sdk';
import { startSimProcess, type SimProcess } from './sim-process.js';
import { startServeApi, type WorkerProcess } from './worker-process.js';

/** A runpod-sdk endpoint object. */
export type SdkEndpoint = NonNullable<ReturnType<ReturnType<typeof runpodSdk>['endpoint']>>;

/** The running stack; `close()` stops the worker (SIGTERM, waits for its exit) and the simulator. */
export interface LocalStack {
  sim: SimProcess;
  worker: WorkerProcess & { url: string };
  endpoint: SdkEndpoint;
  close(): Promise<void>;
}

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  /** Simulator flags, e.g. `['--step-ms', '1']`. */
  simArgs?: string[];
  /** More worker env (`A1111_URL` is set to the simulator). */
  env?: Record<string, string>;
  /** The endpoint's API key (`RUNPOD_API_KEY`), also given to runpod-sdk; default none. */
  apiKey?: string;
}

/** Starts the simulator, then the worker's local endpoint, and opens a runpod-sdk endpoint on it. */
export async function startLocalStack(o: LocalStackOptions = {}): Promise<LocalStack> {
  const sim = await startSimProcess(o.simArgs ?? []);
  const worker = await startServeApi({ A1111_URL: sim.url, ...(o.apiKey ? { RUNPOD_API_KEY: o.apiKey } : {}), ...o.env });
  const endpoint = runpodSdk(o.apiKey ?? 'local', { baseUrl: `${worker.url}/v2` }).endpoint('local')!;
  return {
    sim,
    worker,
    endpoint,
    async close() {
      if (worker.child.exitCode === null) {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
      await sim.close();
    },
  };
}
