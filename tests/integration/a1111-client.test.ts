/**
 * The A1111 client (handler/a1111/) against the bundled A1111 simulator on loopback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { A1111Client, formatA1111Error } from '../../handler/a1111/client.js';
import { A1111Error } from '../../handler/errors/index.js';
import { silentLog } from '../../handler/log.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { a1111Config, closedPort } from '../helpers/fixtures.js';
import { until } from '../helpers/wait.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function sim(opts: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  const s = await startSimulator({ port: 0, ...opts });
  cleanups.push(() => s.close());
  return s;
}

function client(url: string, over: Partial<{ readyTimeoutMs: number; requestTimeoutMs: number }> = {}): A1111Client {
  return new A1111Client(a1111Config({ url, readyTimeoutMs: 5000, requestTimeoutMs: 10_000, ...over }), silentLog);
}

async function expectA1111Error(p: Promise<unknown>): Promise<A1111Error> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(A1111Error);
    return e as A1111Error;
  }
  throw new Error('expected an A1111Error');
}

describe('readiness', () => {
  it('waits until A1111 is up (port opens late)', async () => {
    const port = await closedPort();
    const t0 = performance.now();
    const started = startSimulator({ port, startupDelayMs: 800 });
    const waited = await client(`http://127.0.0.1:${port}`).waitReady();
    const s = await started;
    cleanups.push(() => s.close());
    expect(waited).toBeGreaterThanOrEqual(600);
    expect(performance.now() - t0).toBeLessThan(5000); // soon after the port opens (0.8 s)
  });

  it('gives up at the deadline with a message naming the URL, the deadline and the last failure', async () => {
    const port = await closedPort();
    const t0 = performance.now();
    const err = await expectA1111Error(client(`http://127.0.0.1:${port}`, { readyTimeoutMs: 1000 }).waitReady());
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
    expect(performance.now() - t0).toBeLessThan(4000); // the 1 s deadline, with a wide margin for a busy machine
    expect(err.message).toMatch(new RegExp(`A1111 at http://127.0.0.1:${port} not ready after 1 s \\(A1111_READY_TIMEOUT_S\\); \\d+ tries of GET /sdapi/v1/sd-models, last: ECONNREFUSED`));
  });

  it('does not count a non-200 answer as ready', async () => {
    const s = await sim();
    s.injectFault({ kind: 'status', status: 503, count: 3, route: 'sd-models' });
    const c = client(s.url);
    await c.waitReady();
    const tries = s.requests.filter((r) => r.path === '/sdapi/v1/sd-models');
    expect(tries.map((r) => r.status)).toEqual([503, 503, 503, 200]);
  });
});

describe('calls and error normalisation (docs/a1111-api.md, "Errors")', () => {
  it('returns the raw 2xx body and sends exactly the given payload', async () => {
    const s = await sim();
    const payload = { prompt: 'a red fox', steps: 3, width: 64, height: 64 };
    const res = await client(s.url).call('POST', '/sdapi/v1/txt2img', payload);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body.toString()) as { images: string[]; info: string };
    expect(body.images).toHaveLength(1);
    expect(s.requests.find((r) => r.path === '/sdapi/v1/txt2img')!.body).toEqual(payload);
  });

  it("FastAPI's 404 and 422 shapes and A1111's wrapper become one-line messages", async () => {
    const s = await sim();
    const c = client(s.url);
    const e404 = await expectA1111Error(c.call('POST', '/sdapi/v1/server-kill', {}));
    expect(e404).toMatchObject({ kind: 'http', status: 404, message: 'A1111 404 on POST /sdapi/v1/server-kill: Not Found' });
    const e422 = await expectA1111Error(c.call('POST', '/sdapi/v1/txt2img', { steps: 'abc' }));
    expect(e422.status).toBe(422);
    expect(e422.message).toMatch(/^A1111 422 on POST \/sdapi\/v1\/txt2img: steps: .+/);
    const wrap = await expectA1111Error(c.call('POST', '/sdapi/v1/img2img', { prompt: 'x' }));
    expect(wrap.status).toBe(404);
    expect(wrap.message).toMatch(/^A1111 404 on POST \/sdapi\/v1\/img2img: HTTPException: Init image not found/);
    expect(wrap.a1111.error).toBe('HTTPException');
  });

  it('an injected 500 carries A1111 error, detail and errors', async () => {
    const s = await sim();
    s.injectFault({ kind: 'status', status: 500, count: 1, route: 'txt2img', body: { error: 'OutOfMemoryError', detail: '', body: '', errors: 'CUDA out of memory. Tried to allocate 2.00 GiB' } });
    const e = await expectA1111Error(client(s.url).call('POST', '/sdapi/v1/txt2img', { steps: 1, width: 64, height: 64 }));
    expect(e.message).toBe('A1111 500 on POST /sdapi/v1/txt2img: OutOfMemoryError CUDA out of memory. Tried to allocate 2.00 GiB');
  });

  it("Forge's exception body keeps its message: a CUDA OOM reads \"OutOfMemoryError: CUDA out of memory…\"", async () => {
    const s = await sim();
    s.injectFault({ kind: 'status', status: 500, count: 1, route: 'txt2img', body: { error: 'OutOfMemoryError', detail: '', body: '', message: 'CUDA out of memory. Tried to allocate 2.00 GiB' } });
    const e = await expectA1111Error(client(s.url).call('POST', '/sdapi/v1/txt2img', { steps: 1, width: 64, height: 64 }));
    expect(e.message).toBe('A1111 500 on POST /sdapi/v1/txt2img: OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB');
    expect(e.a1111).toEqual({ error: 'OutOfMemoryError', errors: 'CUDA out of memory. Tried to allocate 2.00 GiB' });
  });

  it('formats unusual bodies', () => {
    expect(formatA1111Error(502, 'GET', '/sdapi/v1/x', 'Bad gateway').message).toBe('A1111 502 on GET /sdapi/v1/x: Bad gateway');
    expect(formatA1111Error(500, 'GET', '/sdapi/v1/x', '').message).toBe('A1111 500 on GET /sdapi/v1/x: (empty body)');
    expect(formatA1111Error(500, 'GET', '/x', '{"error":"HTTPException","detail":"Sampler not found","body":"","errors":""}').message).toBe(
      'A1111 500 on GET /x: HTTPException: Sampler not found',
    );
  });

  it('a closed connection is "unreachable" and asks for a readiness check', async () => {
    const s = await sim();
    s.injectFault({ kind: 'close', count: 1, route: 'txt2img' });
    const c = client(s.url);
    const e = await expectA1111Error(c.call('POST', '/sdapi/v1/txt2img', { steps: 1 }));
    expect(e.kind).toBe('unreachable');
    expect(e.message).toMatch(/^A1111 unreachable on POST \/sdapi\/v1\/txt2img: /);
    expect(c.needsReadyCheck).toBe(true);
    await c.waitReady();
    expect(c.needsReadyCheck).toBe(false);
  });

  it('a hang times out, names the timeout and sends interrupt', async () => {
    const s = await sim();
    s.injectFault({ kind: 'hang', count: 1, route: 'txt2img' });
    const t0 = performance.now();
    const e = await expectA1111Error(client(s.url, { requestTimeoutMs: 500 }).call('POST', '/sdapi/v1/txt2img', { steps: 1 }));
    expect(performance.now() - t0).toBeLessThan(4000); // the 500 ms deadline (the hang is forever)
    expect(e.kind).toBe('timeout');
    expect(e.message).toMatch(/no answer within 500 ms \(A1111_REQUEST_TIMEOUT_S\); sent POST \/sdapi\/v1\/interrupt/);
    expect(s.requests.some((r) => r.path === '/sdapi/v1/interrupt')).toBe(true);
  });

  it('a caller abort is "aborted", not a timeout', async () => {
    const s = await sim({ stepMs: 50 });
    const ac = new AbortController();
    const call = expectA1111Error(client(s.url).call('POST', '/sdapi/v1/txt2img', { steps: 100, width: 64, height: 64 }, { signal: ac.signal }));
    // Abort once the generation (100 × 50 ms) runs at A1111.
    const gen = await until(() => s.requests.find((r) => r.path === '/sdapi/v1/txt2img'), 'the generation at A1111');
    ac.abort(new Error('job stopped'));
    const e = await call;
    expect(e.kind).toBe('aborted');
    // The GPU work is stopped too: A1111 got an interrupt and the generation ended early.
    expect(s.requests.some((r) => r.path === '/sdapi/v1/interrupt')).toBe(true);
    await until(() => gen.respondedAt > 0, 'the generation to end');
    expect(gen.respondedAt - gen.receivedAt).toBeLessThan(100 * 50);
  });
});

describe('answers as the parts they arrived in', () => {
  it('a large answer comes as several socket reads, unjoined; body joins them once, byte for byte', async () => {
    const s = await sim({ stepMs: 0 });
    const res = await client(s.url).call('POST', '/sdapi/v1/txt2img', { prompt: 'parts', steps: 1, width: 1024, height: 1024, batch_size: 2 });
    expect(res.parts!.length).toBeGreaterThan(1);
    const length = res.parts!.reduce((n, p) => n + p.length, 0);
    expect(res.body.length).toBe(length);
    expect(res.body).toBe(res.body); // joined once
    expect(Buffer.concat(res.parts as Buffer[]).equals(res.body)).toBe(true);
    expect((JSON.parse(res.body.toString('utf8')) as { images: string[] }).images).toHaveLength(2);
  });

  it('a small answer in one read is that read itself', async () => {
    const s = await sim();
    const res = await client(s.url).call('GET', '/sdapi/v1/samplers');
    expect(res.parts).toHaveLength(1);
    expect(res.body).toBe(res.parts![0]);
  });
});

describe('A1111_API_AUTH', () => {
  it('sends HTTP Basic credentials on every call (A1111 --api-auth)', async () => {
    const seen: Array<string | undefined> = [];
    const srv = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/sdapi/v1/sd-models' ? '[]' : '{"images":[]}');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => srv.close(() => r())));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const c = new A1111Client(a1111Config({ url, readyTimeoutMs: 2000, requestTimeoutMs: 2000, auth: { username: 'admin', password: 'p:w' } }), silentLog);
    await c.waitReady();
    await c.call('POST', '/sdapi/v1/txt2img', { steps: 1 });
    await c.interrupt();
    const expected = `Basic ${Buffer.from('admin:p:w').toString('base64')}`;
    expect(seen).toEqual([expected, expected, expected]);
  });
});
