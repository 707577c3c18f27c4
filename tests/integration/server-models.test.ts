/**
 * The request model read from the running server (handler/a1111/server-models.ts) against real servers on loopback:
 * the A1111 and Forge flavours of the simulator, a server whose `/openapi.json` is broken, and a pool that mixes them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Pool } from '../../handler/a1111/pool.js';
import { servesPath } from '../../handler/a1111/server-model.js';
import { ServerModels } from '../../handler/a1111/server-models.js';
import { loadConfig } from '../../handler/config.js';
import { createA1111Handler, type JobContext } from '../../handler/jobs/handler.js';
import type { Log } from '../../handler/log.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { a1111Config } from '../helpers/fixtures.js';
import { until } from '../helpers/wait.js';

const limits = loadConfig([], {}).limits;
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function sim(opts: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  const s = await startSimulator({ port: 0, stepMs: 0, ...opts });
  cleanup.push(() => s.close());
  return s;
}

/** A log that keeps its lines (`LEVEL message`). */
function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, trace: rec('TRACE'), debug: rec('DEBUG'), info: rec('INFO'), warn: rec('WARN'), error: rec('ERROR') };
}

const client = (url: string) => new A1111Client(a1111Config({ url, readyTimeoutMs: 2000 }), recordingLog());
const ctx = (): JobContext => ({ signal: new AbortController().signal, rawJson: (b) => JSON.parse(b.toString('utf8')), progress: () => undefined, stream: async () => undefined });
const txt2img = (payload: Record<string, unknown>) => ({ api: { method: 'POST', endpoint: '/sdapi/v1/txt2img' }, payload: { prompt: 'x', steps: 1, width: 64, height: 64, ...payload } });

describe('ServerModels on real servers', () => {
  it("reads A1111's model and routes from its /openapi.json, once, and logs which model it uses", async () => {
    const s = await sim({ extensions: ['controlnet'] });
    const log = recordingLog();
    const models = new ServerModels(log);
    const backend = { url: s.url, client: client(s.url) };
    const [m1, m2] = await Promise.all([models.of(backend), models.of(backend)]);
    expect(m1).toBe(m2);
    expect(s.requests.filter((r) => r.path === '/openapi.json')).toHaveLength(1);
    expect(m1).toMatchObject({ source: 'openapi', forge: false, pydantic: 1 });
    expect(m1.models.get('/sdapi/v1/txt2img')!.fields.get('steps')).toMatchObject({ kind: 'integer', default: 50, nullable: true });
    expect(m1.models.get('/sdapi/v1/txt2img')!.fields.get('send_images')).toMatchObject({ nullable: false });
    expect(servesPath(m1, 'GET', '/controlnet/model_list')).toBe(true);
    expect(log.lines.some((l) => l.startsWith(`INFO Backend ${s.url}: requests checked against GET /openapi.json of ${s.url} (OpenAPI 3.0`))).toBe(true);
    models.invalidate();
    await models.of(backend);
    expect(s.requests.filter((r) => r.path === '/openapi.json')).toHaveLength(2);
  });

  it('the common model of several backends is computed once for the same models, again after invalidate', async () => {
    const [a, f] = await Promise.all([sim(), sim({ flavor: 'forge' })]);
    const models = new ServerModels(recordingLog());
    const backends = [a, f].map((s) => ({ url: s.url, client: client(s.url) }));
    const first = await models.forJobs(backends);
    expect(await models.forJobs(backends)).toBe(first);
    // What both accept: A1111's fields without Forge's own, and pydantic 2's stricter reading.
    expect(first.models.get('/sdapi/v1/txt2img')!.fields.has('distilled_cfg_scale')).toBe(false);
    expect(first.pydantic).toBe(2);
    expect(await models.forJobs([backends[0]!])).toBe(await models.of(backends[0]!));
    models.invalidate(f.url);
    const again = await models.forJobs(backends);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it("reads Forge's OpenAPI 3.1 model", async () => {
    const s = await sim({ flavor: 'forge' });
    const m = await new ServerModels(recordingLog()).of({ url: s.url, client: client(s.url) });
    expect(m).toMatchObject({ forge: true, pydantic: 2 });
    expect(m.models.get('/sdapi/v1/txt2img')!.fields.has('distilled_cfg_scale')).toBe(true);
    expect(servesPath(m, 'GET', '/sdapi/v1/sd-modules')).toBe(true);
    expect(servesPath(m, 'GET', '/sdapi/v1/sd-vae')).toBe(false);
  });

  it('falls back to the bundled A1111 v1.10.1 model when /openapi.json is broken, and says so', async () => {
    // An extension that breaks FastAPI's schema generation makes /openapi.json answer 500.
    const server = http.createServer((req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const log = recordingLog();
    const m = await new ServerModels(log).of({ url, client: client(url) });
    expect(m.source).toBe('bundled');
    expect(log.lines.some((l) => l.startsWith(`WARN Backend ${url}: no usable GET /openapi.json (A1111 500 on GET /openapi.json`) && l.endsWith('requests checked against the A1111 v1.10.1 model bundled with the worker'))).toBe(true);
  });
});

describe('the handler checks jobs against the server it runs on', () => {
  it("Forge's fields complete on Forge and are refused by name on A1111", async () => {
    const [a, f] = [await sim(), await sim({ flavor: 'forge' })];
    const flux = txt2img({ distilled_cfg_scale: 3.5 });
    const onForge = (await createA1111Handler({ client: client(f.url), limits, log: recordingLog() })({ id: 'f', input: flux }, ctx())) as { images?: string[] };
    expect(onForge.images).toHaveLength(1);
    expect(f.requests.find((r) => r.path === '/sdapi/v1/txt2img')!.body).toEqual(flux.payload);
    const onA1111 = (await createA1111Handler({ client: client(a.url), limits, log: recordingLog() })({ id: 'a', input: flux }, ctx())) as { error?: string };
    expect(onA1111.error).toBe(
      "invalid payload for POST /sdapi/v1/txt2img: distilled_cfg_scale: unknown field: Forge takes it, but this server's StableDiffusionProcessingTxt2Img has no such field",
    );
    expect(a.requests.filter((r) => r.path === '/sdapi/v1/txt2img')).toEqual([]);
  });

  it('an extension route is refused naming the extension when the server does not serve it', async () => {
    const a = await sim();
    const out = (await createA1111Handler({ client: client(a.url), limits, log: recordingLog() })({ id: 'cn', input: { api: { method: 'GET', endpoint: '/controlnet/model_list' } } }, ctx())) as { error?: string };
    expect(out.error).toMatch(/^GET \/controlnet\/model_list is not served by this A1111: .*ControlNet/);
    const withCn = await sim({ extensions: ['controlnet'] });
    const listed = (await createA1111Handler({ client: client(withCn.url), limits, log: recordingLog() })({ id: 'cn2', input: { api: { method: 'GET', endpoint: '/controlnet/model_list' } } }, ctx())) as { model_list?: string[] };
    expect(Array.isArray(listed.model_list)).toBe(true);
  });

  it('a pool of A1111 and Forge checks against their common model: Forge-only fields are refused', async () => {
    const [a, f] = [await sim(), await sim({ flavor: 'forge' })];
    const pool = new A1111Pool(a1111Config({ url: a.url, urls: [a.url, f.url], readyTimeoutMs: 2000 }), recordingLog(), { slowProbeIntervalMs: 50 });
    cleanup.push(() => pool.close());
    await pool.start();
    await until(() => pool.readyCount === 2, 'both backends ready');
    const handler = createA1111Handler({ client: pool, limits, log: recordingLog() });
    const out = (await handler({ id: 'mix', input: txt2img({ distilled_cfg_scale: 3.5 }) }, ctx())) as { error?: string };
    expect(out.error).toContain('distilled_cfg_scale: unknown field');
    const plain = (await handler({ id: 'plain', input: txt2img({ seed: '7' }) }, ctx())) as { images?: string[] };
    expect(plain.images).toHaveLength(1);
  });
});
