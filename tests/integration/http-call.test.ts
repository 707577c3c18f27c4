/**
 * `exchange` (handler/http-call.ts), the one HTTP exchange of both clients, against a real server on loopback.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { exchange, ExchangeTimeout } from '../../handler/http-call.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A server on loopback; `handle` answers each request (body read first). */
async function server(handle: (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void): Promise<string> {
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

function agent(): Agent {
  const a = new Agent({ keepAliveTimeout: 1000 });
  cleanups.push(() => a.close());
  return a;
}

describe('exchange', () => {
  it('sends method, path with query, headers and body; gives status, the two headers and the body as its chunks', async () => {
    let seen: { method?: string; url?: string; auth?: string; body?: string } = {};
    const big = Buffer.alloc(300_000, 0x61);
    const url = await server((req, body, res) => {
      seen = { method: req.method, url: req.url, auth: req.headers.authorization, body: body.toString() };
      res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Encoding': 'identity' });
      res.write(big.subarray(0, 100_000));
      setImmediate(() => res.end(big.subarray(100_000)));
    });
    const res = await exchange(agent(), `${url}/v2/x/job-done/w1?isStream=false`, { method: 'POST', headers: { authorization: 'k' }, body: '{"a":1}', signal: new AbortController().signal });
    expect(seen).toEqual({ method: 'POST', url: '/v2/x/job-done/w1?isStream=false', auth: 'k', body: '{"a":1}' });
    expect(res.status).toBe(201);
    expect(res.contentType).toBe('application/json');
    expect(res.contentEncoding).toBe('identity');
    expect(res.parts.length).toBeGreaterThan(1);
    expect(res.length).toBe(big.length);
    expect(Buffer.concat(res.parts).equals(big)).toBe(true);
  });

  it('sends a body given as parts, in order, with the length given', async () => {
    let got = '';
    const url = await server((_req, body, res) => {
      got = body.toString();
      res.end();
    });
    const parts = [Buffer.from('{"output":'), Buffer.from('[1,2]'), Buffer.from('}')];
    const res = await exchange(agent(), url, { method: 'POST', headers: { 'content-length': '16' }, body: parts, signal: new AbortController().signal });
    expect([res.status, got, res.length]).toEqual([200, '{"output":[1,2]}', 0]);
  });

  it('rejects with the signal reason: aborted before, and while the server holds the answer', async () => {
    const url = await server(() => undefined); // never answers
    const before = new AbortController();
    before.abort(new Error('stopped before'));
    await expect(exchange(agent(), url, { method: 'GET', headers: {}, signal: before.signal })).rejects.toThrow('stopped before');
    const during = new AbortController();
    const pending = exchange(agent(), url, { method: 'GET', headers: {}, signal: during.signal });
    setTimeout(() => during.abort(new Error('stopped during')), 50);
    await expect(pending).rejects.toThrow('stopped during');
  });

  it('ends with ExchangeTimeout past its time bound, and the server sees the request dropped', async () => {
    let dropped!: Promise<unknown>;
    const url = await server((req) => {
      dropped = new Promise((r) => req.socket.once('close', r));
    });
    const err = await exchange(agent(), url, { method: 'POST', headers: {}, body: '{}', timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExchangeTimeout);
    expect([(err as ExchangeTimeout).code, (err as Error).message]).toEqual(['ETIMEDOUT', 'no answer within 50 ms']);
    await dropped;
  });

  it('leaves no listener on the caller\'s signal and no timer once it has ended', async () => {
    const url = await server((_req, _body, res) => res.end('{}'));
    const signal = new AbortController().signal;
    let listeners = 0;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (...a: Parameters<typeof add>) => (listeners++, add(...a));
    signal.removeEventListener = (...a: Parameters<typeof remove>) => (listeners--, remove(...a));
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const a = agent();
    await exchange(a, url, { method: 'GET', headers: {}, signal, timeoutMs: 60_000 }); // the socket is open now
    const before = timers();
    for (let i = 0; i < 20; i++) await exchange(a, url, { method: 'GET', headers: {}, signal, timeoutMs: 60_000 });
    expect([listeners, timers()]).toEqual([0, before]);
  });

  it('rejects with undici\'s error and its code when nothing listens', async () => {
    const url = await server(() => undefined);
    const port = new URL(url).port;
    await cleanups.pop()!(); // the server is closed: the port refuses
    const err = (await exchange(agent(), `http://127.0.0.1:${port}/`, { method: 'GET', headers: {}, signal: new AbortController().signal }).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe('ECONNREFUSED');
  });
});
