/**
 * The raw pass-through worker of `npm run bench`: the floor the real worker is measured against. A minimal loop
 * speaking RunPod's worker protocol (docs/runpod-protocol.md, "Job acquisition (job-take)" and "Result reporting
 * (job-done)"): take one job (`GET RUNPOD_WEBHOOK_GET_JOB` with `$ID` = the worker id; 204 = none), forward the
 * job's `input.payload` to A1111's `POST /sdapi/v1/txt2img`, read A1111's answer bytes straight into the body
 * `{"output": <bytes>}`, post it to `RUNPOD_WEBHOOK_POST_OUTPUT` (`$ID` = the job id, `isStream=false`), and again.
 * No checks, no heartbeat, no retries, no progress: any error ends the process.
 *
 * Env: `RUNPOD_WEBHOOK_GET_JOB`, `RUNPOD_WEBHOOK_POST_OUTPUT`, `RUNPOD_POD_ID`, `A1111_URL`. Run as
 * `node dist/bench/raw-worker.js`; SIGTERM or SIGINT ends it at once (exit code 0).
 */
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true });
const EMPTY = Buffer.alloc(0);

/**
 * One HTTP exchange over the kept-alive agent; resolves with the status and the answer body, which starts with
 * `before` and ends with `after`: when the answer has a `content-length`, its bytes are copied once into one buffer
 * of the final size.
 */
function exchange(method: string, url: string, body?: Buffer, before = EMPTY, after = EMPTY): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = body ? { 'content-type': 'application/json', 'content-length': body.length } : {};
    const req = http.request(url, { method, agent, headers }, (res) => {
      const length = Number(res.headers['content-length']);
      if (Number.isInteger(length)) {
        const out = Buffer.allocUnsafe(before.length + length + after.length);
        let at = before.copy(out, 0);
        res.on('data', (c: Buffer) => (at += c.copy(out, at)));
        res.on('end', () => {
          after.copy(out, at);
          resolve({ status: res.statusCode ?? 0, body: out });
        });
      } else {
        const chunks: Buffer[] = [before];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat([...chunks, after]) }));
      }
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`raw worker: ${name} is not set`);
  return v;
}

const podId = env('RUNPOD_POD_ID');
const takeUrl = env('RUNPOD_WEBHOOK_GET_JOB').replaceAll('$ID', podId);
const doneTemplate = env('RUNPOD_WEBHOOK_POST_OUTPUT').replaceAll('$RUNPOD_POD_ID', podId);
const doneSuffix = doneTemplate.includes('?') ? '&isStream=false' : '?isStream=false';
const txt2img = `${env('A1111_URL').replace(/\/+$/, '')}/sdapi/v1/txt2img`;
const OPEN = Buffer.from('{"output":');
const CLOSE = Buffer.from('}');

async function loop(): Promise<never> {
  for (;;) {
    const take = await exchange('GET', takeUrl);
    if (take.status !== 200) continue;
    const job = JSON.parse(take.body.toString('utf8')) as { id: string; input: { payload: unknown } };
    const result = await exchange('POST', txt2img, Buffer.from(JSON.stringify(job.input.payload)), OPEN, CLOSE);
    await exchange('POST', doneTemplate.replaceAll('$ID', job.id) + doneSuffix, result.body);
  }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
loop().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
