/**
 * Secrets never appear in logs or outputs: the RunPod keys, bucket keys, the A1111 basic-auth password and
 * credentials inside webhook URLs. The worker runs as a process with every secret set and logs at TRACE; each
 * captured line and each posted result is searched for them.
 */
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../sim/server.js';
import { closedPort } from '../helpers/fixtures.js';
import { resultOf, run, startTestEndpoint, workerEnv } from '../helpers/endpoint-worker.js';
import { until } from '../helpers/wait.js';
import { startServeApi, startWorker } from '../helpers/worker-process.js';

const SECRETS = {
  RUNPOD_AI_API_KEY: 'rk_ai_SECRET_d41d8cd98f',
  RUNPOD_API_KEY: 'rk_api_SECRET_9e107d9d37',
  BUCKET_ACCESS_KEY_ID: 'AKIA_SECRET_7F3A9B21',
  BUCKET_SECRET_ACCESS_KEY: 'bucket_SECRET_wJalrXUtnFEMI',
  // The bucket is configured (all three BUCKET_* are needed together) on a closed port: jobs below ask for base64
  // output, but for "s-upload", whose upload fails (once main.ts passes cfg.output to the handler).
  BUCKET_ENDPOINT_URL: 'http://127.0.0.1:9/bucket',
  A1111_API_AUTH: 'admin:a1111_SECRET_pw',
};
const NEEDLES = ['rk_ai_SECRET_d41d8cd98f', 'rk_api_SECRET_9e107d9d37', 'AKIA_SECRET_7F3A9B21', 'bucket_SECRET_wJalrXUtnFEMI', 'a1111_SECRET_pw', 'hook_SECRET_pw'];

function expectClean(text: string): void {
  for (const n of NEEDLES) expect(text, `"${n}" leaked`).not.toContain(n);
}

describe('no secret in logs or outputs', () => {
  it('platform mode: good, refused, failing and lost results', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 1 });
    const ep = await startTestEndpoint();
    try {
      const env = { ...workerEnv(ep, 'w-secret'), ...SECRETS, A1111_URL: sim.url, RUNPOD_DEBUG_LEVEL: 'TRACE', RUNPOD_ENDPOINT_ID: 'ep1', RUNPOD_PING_INTERVAL: '1000', RESULT_POST_MIN_DELAY_MS: '20', RESULT_POST_RETRIES: '1' };
      // The platform's own key is what the worker authenticates with: make it the secret under test.
      env.RUNPOD_AI_API_KEY = SECRETS.RUNPOD_AI_API_KEY;
      const w = startWorker(env);
      sim.injectFault({ kind: 'status', status: 500, count: 1, route: 'txt2img' });
      await run(ep, { prompt: 'x', steps: 1, width: 64, height: 64, output: 'base64' }); // fails at A1111
      await run(ep, { prompt: 'y', steps: 1, width: 64, height: 64, output: 'base64' });
      await run(ep, { api: { method: 'POST', endpoint: '/sdapi/v1/server-kill' } }); // refused
      // The upload to the closed bucket port fails: the job's error and the retry warnings name no credential.
      const uploadJob = await run(ep, { prompt: 'u', steps: 1, width: 64, height: 64 });
      ep.injectFault({ route: 'done', answer: { status: 400 } }); // one result refused: logged with its job id
      await run(ep, { prompt: 'z', steps: 1, width: 64, height: 64, output: 'base64' });
      const last = await run(ep, { prompt: 'w', steps: 1, width: 64, height: 64, output: 'base64' });
      const upload = await resultOf(ep, uploadJob);
      await resultOf(ep, last);
      // Once main.ts passes cfg.output to the handler the upload fails with its reason; before that it is base64.
      const uploadBody = upload.body as { output?: unknown; error?: string };
      if (uploadBody.error !== undefined) expect(uploadBody.error).toMatch(new RegExp(`^S3 upload of image 0 to bucket/${uploadJob}/0\\.png failed: .*ECONNREFUSED`));
      else expect(uploadBody.output).toHaveProperty('images');
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      const logs = w.stdout() + w.stderr();
      const refused = ep.requests().find((r) => r.kind === 'done' && r.status === 400)!;
      expect(logs).toContain(refused.jobId); // the refusal is logged with its job id…
      expectClean(logs); // …without any secret
      for (const r of ep.requests()) expectClean(r.raw ?? '');
      // The key does travel where it must: as the raw Authorization header to the platform.
      expect(ep.requests().find((r) => r.kind === 'take')!.headers.authorization).toBe(SECRETS.RUNPOD_AI_API_KEY);
    } finally {
      await ep.close();
      await sim.close();
    }
  });

  it('--rp_serve_api: webhook URL credentials and the endpoint key stay out of the logs', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 1 });
    try {
      const hookPort = await closedPort();
      const w = await startServeApi({ ...SECRETS, A1111_URL: sim.url, RUNPOD_DEBUG_LEVEL: 'TRACE', LOCAL_ENDPOINT_WEBHOOK_RETRY_MS: '50' });
      const r = await fetch(`${w.url}/run`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRETS.RUNPOD_API_KEY}` },
        body: JSON.stringify({ input: { prompt: 'hook', steps: 1, width: 64, height: 64, output: 'base64' }, webhook: `http://hookuser:hook_SECRET_pw@127.0.0.1:${hookPort}/hook` }),
      });
      const { id } = (await r.json()) as { id: string };
      const bad = await fetch(`${w.url}/status/${id}`, { headers: { authorization: 'Bearer wrong-key-value' } });
      expect(bad.status).toBe(401);
      expectClean(await bad.text());
      const status = async (): Promise<string> =>
        ((await (await fetch(`${w.url}/status/${id}`, { headers: { authorization: `Bearer ${SECRETS.RUNPOD_API_KEY}` } })).json()) as { status: string }).status;
      await until(async () => (await status()) === 'COMPLETED', { everyMs: 50, what: 'the job to complete' });
      // The webhook attempts (all refused) are logged.
      await until(() => /Webhook to .* failed/.test(w.stdout()), 'the failed webhook in the log');
      w.child.kill('SIGTERM');
      await w.exited;
      // The failed webhook is logged with its URL, credentials replaced.
      expect(w.stdout()).toMatch(/Webhook to http:\/\/\[REDACTED\]@127\.0\.0\.1:\d+\/hook failed/);
      expectClean(w.stdout() + w.stderr());
    } finally {
      await sim.close();
    }
  });
});
