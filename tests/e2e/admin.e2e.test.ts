/**
 * End to end through sd-proxy-server's admin API on the local endpoint: the worker started with `--rp_serve_api`
 * and one A1111 simulator process gets a second simulator process registered with `POST /admin/register/image`;
 * four jobs sent at once with `runpod-sdk` then run on both (one job per ready backend).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import runpodSdk from 'runpod-sdk';
import { startSimProcess, type SimProcess } from '../helpers/sim-process.js';
import { until } from '../helpers/wait.js';
import { startServeApi, type WorkerProcess } from '../helpers/worker-process.js';

const KEY = 'e2e-admin-key';
const FINAL = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

let simA: SimProcess;
let simB: SimProcess;
let worker: WorkerProcess & { url: string };

async function admin(path: string, body?: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${worker.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, ...(body === undefined ? {} : { body }) });
  return { status: r.status, text: await r.text() };
}

beforeAll(async () => {
  [simA, simB] = await Promise.all([startSimProcess(['--step-ms', '20']), startSimProcess(['--step-ms', '20'])]);
  worker = await startServeApi({ A1111_URL: simA.url, RUNPOD_API_KEY: KEY, RUNPOD_DEBUG_LEVEL: 'INFO' });
});

afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await Promise.all([simA?.close(), simB?.close()]);
});

describe('admin API through the worker process', () => {
  it('a simulator registered with POST /admin/register/image takes jobs next to the configured one', async () => {
    const reg = await admin('/admin/register/image', simB.url);
    expect(reg.status).toBe(200);
    expect(reg.text).toBe(`{"message":"URL registered successfully","url":"${simB.url}/"}`);
    expect((await admin('/admin/servers')).text).toBe(JSON.stringify({ image: [`${simA.url}/`, `${simB.url}/`] }));

    // B joins once it answers its readiness probe (warm-up is off in these tests): the pool logs it as the second
    // ready backend just before it takes jobs.
    await until(() => /A1111 ready at .* \(2 of 2 ready\)\./.test(worker.stdout()), { timeoutMs: 15_000, what: 'the registered simulator to be ready' });

    const endpoint = runpodSdk(KEY, { baseUrl: `${worker.url}/v2` }).endpoint('local')!;
    // 4 jobs of 25 steps × 20 ms: two run at once, one on each backend.
    const runs = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        endpoint.run({ input: { api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: `admin-e2e-${i}`, steps: 25, width: 64, height: 64 } } } as never),
      ),
    );
    const finals = await Promise.all(
      runs.map((run) =>
        until(
          async () => {
            const s = (await endpoint.status(run.id)) as { status: string };
            return FINAL.includes(s.status) ? s.status : null;
          },
          { timeoutMs: 30_000, everyMs: 50, what: `job ${run.id} to be final` },
        ),
      ),
    );
    expect(finals).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);

    const prompts = async (sim: SimProcess): Promise<string[]> =>
      (await sim.requests()).filter((r) => r.path === '/sdapi/v1/txt2img').map((r) => (r.body as { prompt: string }).prompt);
    const [onA, onB] = [await prompts(simA), await prompts(simB)];
    expect(onA.length).toBeGreaterThan(0);
    expect(onB.length).toBeGreaterThan(0);
    expect([...onA, ...onB].sort()).toEqual(['admin-e2e-1', 'admin-e2e-2', 'admin-e2e-3', 'admin-e2e-4']);
  });
});
