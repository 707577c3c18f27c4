/**
 * One soak run: the emulator and the webhook receiver in this process, the simulator and the worker as child
 * processes; jobs submitted through the public `/run`, a window at a time, until all are final or nothing moves;
 * then `/status` compared with the webhooks, and the worker drained with SIGTERM.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startEndpoint, type EndpointStats } from '../../handler/endpoint/index.js';
import type { SimFaultStats } from '../../sim/server.js';
import { startSimProcess, type SimProcess } from '../../tests/helpers/sim-process.js';
import { startWorker, type WorkerProcess } from '../../tests/helpers/worker-process.js';
import { jobSpec } from './jobs.js';
import { resolveSoakOptions, type ResolvedSoakOptions, type SoakOptions } from './options.js';
import { buildReport, type SoakObservations, type SoakReport } from './report.js';
import { FinalsCollector, startHookReceiver, type Final } from './webhooks.js';

type Endpoint = Awaited<ReturnType<typeof startEndpoint>>;

/** The worker's env: platform mode against the emulator, A1111 at `a1111Url`, fast retries so faults pass quickly. */
function soakWorkerEnv(endpoint: Endpoint, a1111Url: string): Record<string, string> {
  return {
    ...endpoint.workerEnv(),
    RUNPOD_POD_ID: 'soak-worker',
    RUNPOD_AI_API_KEY: 'soak-key',
    RUNPOD_PING_INTERVAL: '2000',
    RUNPOD_DEBUG_LEVEL: 'INFO',
    A1111_URL: a1111Url,
    A1111_READY_TIMEOUT_S: '60',
    A1111_READY_INTERVAL_MS: '10',
    A1111_REQUEST_TIMEOUT_S: '30',
    RESULT_POST_RETRIES: '10',
    RESULT_POST_MIN_DELAY_MS: '10',
    RESULT_POST_MAX_DELAY_MS: '200',
    RESULT_POST_TIMEOUT_MS: '10000',
  };
}

async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`POST ${url} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/**
 * Submits the jobs, keeping `window` of them not final, until all are final, the worker exits, or no job became
 * final for `stallTimeoutMs`. Pushes each submitted id to `ids`; returns the failures seen (none: all final).
 */
async function submitUntilFinal(o: ResolvedSoakOptions, endpointUrl: string, hookUrl: string, w: WorkerProcess, c: FinalsCollector, ids: string[]): Promise<string[]> {
  const pending = (): number => ids.filter((id) => !c.finals.has(id)).length;
  let lastProgress = performance.now();
  let lastFinals = 0;
  while (true) {
    while (ids.length < o.jobs && pending() < o.window) {
      const spec = jobSpec(ids.length);
      const { id } = await postJson(`${endpointUrl}/v2/soak/run`, { input: spec.input, webhook: hookUrl });
      ids.push(String(id));
    }
    if (ids.length === o.jobs && pending() === 0) return [];
    if (w.child.exitCode !== null || w.child.signalCode !== null) {
      return [`the worker exited (${w.child.exitCode ?? w.child.signalCode}) with ${pending()} job(s) not final`];
    }
    if (c.finals.size !== lastFinals) {
      lastFinals = c.finals.size;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > o.stallTimeoutMs) {
      return [`no job became final for ${o.stallTimeoutMs} ms; ${pending()} job(s) left`];
    }
    await c.waitForChange(250);
  }
}

/** Counts the jobs whose `/status` is not final, and those whose final `/status` differs from their webhook. */
async function compareStatuses(endpointUrl: string, ids: readonly string[], finals: ReadonlyMap<string, Final>): Promise<{ notFinal: number; statusMismatch: number }> {
  let notFinal = 0;
  let statusMismatch = 0;
  for (const id of ids) {
    const res = await fetch(`${endpointUrl}/v2/soak/status/${id}`);
    const body = (await res.json()) as { status?: string };
    const f = finals.get(id);
    if (!['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(String(body.status))) notFinal++;
    else if (!f || f.status !== body.status) statusMismatch++;
  }
  return { notFinal, statusMismatch };
}

/** SIGTERM to a running worker (SIGKILL after 10 s); resolves to its exit code. */
async function drain(w: WorkerProcess): Promise<number | null> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return w.exited;
  w.child.kill('SIGTERM');
  const t = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
  const code = await w.exited;
  clearTimeout(t);
  return code;
}

/**
 * Runs the soak and returns its report (never throws for a failed assertion: see `failures`).
 * @throws when the processes cannot be started
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const o = resolveSoakOptions(options);
  const t0 = performance.now();
  const collector = new FinalsCollector(o.log, t0);
  const hooks = await startHookReceiver((body) => collector.record(body));
  const endpoint = await startEndpoint({
    port: 0,
    endpointId: 'soak',
    takeHoldMs: 2000,
    webhookRetryDelayMs: 200,
    executionTimeoutDefaultMs: o.executionTimeoutMs,
    faults: { seed: o.seed, takeRate: o.takeFaultRate, doneRate: o.doneFaultRate },
  }).catch(async (e: unknown) => {
    await hooks.close();
    throw e;
  });
  let sim: SimProcess | undefined;
  let worker: WorkerProcess | undefined;
  const ids: string[] = [];
  let seen: Omit<SoakObservations, 'workerStdout'> | undefined;
  try {
    sim = await startSimProcess(['--step-ms', '0', '--fault-rate', String(o.a1111FaultRate), '--fault-seed', String(o.seed)]);
    const w = (worker = startWorker(soakWorkerEnv(endpoint, sim.url)));
    collector.workerPid = w.child.pid;
    o.log(`soak: ${o.jobs} jobs, seed ${o.seed}, fault rates: A1111 ${o.a1111FaultRate}, job-take ${o.takeFaultRate}, job-done ${o.doneFaultRate}; worker pid ${w.child.pid}`);
    const workerGone = w.exited.then(() => collector.wake());
    const failures = await submitUntilFinal(o, endpoint.url, hooks.url, w, collector, ids);
    // Late duplicates (a second webhook) would show within the webhook retry delay.
    await sleep(500);
    const statuses = await compareStatuses(endpoint.url, ids, collector.finals);
    const simStats = ((await (await fetch(`${sim.url}/sim/state`)).json()) as { fault_stats: SimFaultStats }).fault_stats;
    const endpointStats: EndpointStats = endpoint.stats();
    const exitCode = await drain(w);
    await workerGone;
    const { finals, hookCount, rssKb } = collector;
    seen = { t0, ids, finals, hookCount, rssKb, simStats, endpointStats, exitCode, ...statuses, failures };
  } finally {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await sim?.close();
    await endpoint.close();
    await hooks.close();
  }
  return buildReport(o, { ...seen, workerStdout: worker.stdout() });
}
