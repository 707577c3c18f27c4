/**
 * sd-proxy-server's admin API on the local endpoint (handler/endpoint/admin.ts) over real loopback HTTP: a real
 * endpoint whose registry is a real A1111Pool over real A1111 simulators. Success bodies are seed 002's; the
 * error answers are sd-proxy-server's (LlamaEdge/sd-proxy-server src/handler.rs, src/error.rs) with the
 * differences documented in admin.ts. Bodies are compared byte for byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { A1111Pool } from '../../handler/a1111/pool.js';
import { startEndpoint, type BackendRegistry, type LocalEndpoint } from '../../handler/endpoint/index.js';
import { silentLog } from '../../handler/log.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { a1111Config, closedPort } from '../helpers/fixtures.js';
import { until } from '../helpers/wait.js';

const KEY = 'admin-test-key';

interface Answer {
  status: number;
  text: string;
  contentType: string | null;
  allow: string | null;
}

let simA: Simulator;
let simB: Simulator;
let pool: A1111Pool;
let keyedPool: A1111Pool;
let ep: LocalEndpoint;
let keyed: LocalEndpoint;
let bare: LocalEndpoint;

const registryOf = (p: A1111Pool): BackendRegistry => ({
  list: () => p.backends.map((b) => b.url),
  register: (u) => p.add(u),
  unregister: (u) => p.remove(u),
});

function newPool(url: string): A1111Pool {
  return new A1111Pool(a1111Config({ url, urls: [url], readyTimeoutMs: 2000 }), silentLog, { slowProbeIntervalMs: 50 });
}

/** A POST as `curl -X POST <url> -d <body>` sends it (form-urlencoded content type) unless headers say otherwise. */
async function post(base: LocalEndpoint, path: string, body?: string, headers: Record<string, string> = {}, method = 'POST'): Promise<Answer> {
  const init: RequestInit = { method, headers: body === undefined ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers } };
  if (body !== undefined) init.body = body;
  const r = await fetch(`${base.url}${path}`, init);
  return { status: r.status, text: await r.text(), contentType: r.headers.get('content-type'), allow: r.headers.get('allow') };
}

const slash = (url: string): string => `${url}/`;
const servers = (...urls: string[]): string => JSON.stringify({ image: urls });
const registered = (url: string): string => `{"message":"URL registered successfully","url":"${url}"}`;
const unregistered = (url: string): string => `{"message":"URL unregistered successfully","url":"${url}"}`;

beforeAll(async () => {
  simA = await startSimulator({ port: 0, stepMs: 0 });
  simB = await startSimulator({ port: 0, stepMs: 0 });
  pool = newPool(simA.url);
  keyedPool = newPool(simA.url);
  await Promise.all([pool.start(), keyedPool.start()]);
  ep = await startEndpoint({ port: 0, takeHoldMs: 300, backends: registryOf(pool) });
  keyed = await startEndpoint({ port: 0, takeHoldMs: 300, apiKey: KEY, backends: registryOf(keyedPool) });
  bare = await startEndpoint({ port: 0, takeHoldMs: 300 });
});

afterAll(async () => {
  pool?.close();
  keyedPool?.close();
  await Promise.all([ep?.close(), keyed?.close(), bare?.close()]);
  await Promise.all([simA?.close(), simB?.close()]);
});

describe('admin API: register, list, unregister (seed 002 bodies)', () => {
  it('lists the configured backend with the root path serialised as "/"', async () => {
    const r = await post(ep, '/admin/servers');
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^application\/json/);
    expect(r.text).toBe(servers(slash(simA.url)));
  });

  it('registers a second simulator: exact body, both listed, the pool reaches two ready backends', async () => {
    const r = await post(ep, '/admin/register/image', simB.url);
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^application\/json/);
    expect(r.text).toBe(registered(slash(simB.url)));
    expect(pool.backends.map((b) => b.url)).toEqual([simA.url, simB.url]);
    expect((await post(ep, '/admin/servers')).text).toBe(servers(slash(simA.url), slash(simB.url)));
    await until(() => pool.readyCount === 2, 'two ready backends');
    // The new backend was probed like a configured one.
    expect(simB.requests.some((q) => q.path === '/sdapi/v1/sd-models' && q.status === 200)).toBe(true);
  });

  it('registering the same server again (another spelling) answers 200 and changes nothing', async () => {
    const port = new URL(simB.url).port;
    for (const spelling of [simB.url, `${simB.url}/`, `HTTP://127.0.0.1:${port}//`, `  ${simB.url}\n`]) {
      const r = await post(ep, '/admin/register/image', spelling);
      expect(r.status, spelling).toBe(200);
      expect(r.text, spelling).toBe(registered(slash(simB.url)));
    }
    expect(pool.backends.map((b) => b.url)).toEqual([simA.url, simB.url]);
    expect(pool.readyCount).toBe(2);
    expect((await post(ep, '/admin/servers')).text).toBe(servers(slash(simA.url), slash(simB.url)));
  });

  it('unregisters it (text/plain body with a trailing newline): exact body, the list shrinks', async () => {
    const r = await post(ep, '/admin/unregister/image', `${simB.url}/\n`, { 'content-type': 'text/plain' });
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^application\/json/);
    expect(r.text).toBe(unregistered(slash(simB.url)));
    expect((await post(ep, '/admin/servers')).text).toBe(servers(slash(simA.url)));
    expect(pool.backends.map((b) => b.url)).toEqual([simA.url]);
    expect(pool.readyCount).toBe(1);
  });

  it('unregistering an unknown URL is 404 "Not found available server" (sd-proxy-server: 500)', async () => {
    const r = await post(ep, '/admin/unregister/image', simB.url);
    expect(r.status).toBe(404);
    expect(r.contentType).toMatch(/^text\/plain/);
    expect(r.text).toBe(`404 Not Found: Not found available server: ${slash(simB.url)}`);
    expect((await post(ep, '/admin/servers')).text).toBe(servers(slash(simA.url)));
  });

  it('keeps a path prefix, normalises scheme/host case and the default port, and matches on that form', async () => {
    const port = await closedPort();
    const r = await post(ep, '/admin/register/image', `HTTP://LocalHost:${port}/a1111/`);
    expect(r.status).toBe(200);
    expect(r.text).toBe(registered(`http://localhost:${port}/a1111`));
    expect(pool.backends.map((b) => b.url)).toEqual([simA.url, `http://localhost:${port}/a1111`]);
    const d = await post(ep, '/admin/register/image', 'http://example.test:80');
    expect(d.text).toBe(registered('http://example.test/'));
    expect((await post(ep, '/admin/servers')).text).toBe(servers(slash(simA.url), `http://localhost:${port}/a1111`, 'http://example.test/'));
    expect((await post(ep, '/admin/unregister/image', `http://localhost:${port}/a1111`)).text).toBe(unregistered(`http://localhost:${port}/a1111`));
    expect((await post(ep, '/admin/unregister/image', 'http://EXAMPLE.test/')).text).toBe(unregistered('http://example.test/'));
    expect((await post(ep, '/admin/servers')).text).toBe(servers(slash(simA.url)));
    // Neither ever became ready (nothing answers there); the pool is back to one backend.
    expect(pool.readyCount).toBe(1);
  });
});

describe('admin API: errors (plain text, sd-proxy-server format "<code> <reason>: <message>")', () => {
  const bad = (message: string): string => `400 Bad Request: ${message}`;
  const cases: Array<[what: string, body: string | undefined, text: string]> = [
    ['not a URL', 'not a url', bad('invalid url: not a url')],
    ['empty body', '', bad("invalid url: the body is empty; send the server's URL as plain text, e.g. http://127.0.0.1:7860")],
    ['no body at all', undefined, bad("invalid url: the body is empty; send the server's URL as plain text, e.g. http://127.0.0.1:7860")],
    ['whitespace only', ' \n', bad("invalid url: the body is empty; send the server's URL as plain text, e.g. http://127.0.0.1:7860")],
    ['a JSON body', '{"url": "http://127.0.0.1:7860"}', bad('invalid url: {"url": "http://127.0.0.1:7860"}')],
    ['no scheme', 'localhost:7860', bad('invalid url: localhost:7860: only http:// and https:// URLs are accepted (e.g. http://127.0.0.1:7860)')],
    ['ftp scheme', 'ftp://127.0.0.1:7860', bad('invalid url: ftp://127.0.0.1:7860: only http:// and https:// URLs are accepted (e.g. http://127.0.0.1:7860)')],
    [
      'credentials',
      'http://admin:s3cret@127.0.0.1:7860',
      bad('invalid url: the URL must not carry credentials (user:password@); set A1111_API_AUTH=user:password for the worker instead'),
    ],
    ['a query', 'http://127.0.0.1:7860/?x=1', bad('invalid url: http://127.0.0.1:7860/?x=1: a server URL takes no query or fragment')],
    ['an empty query', 'http://127.0.0.1:7860?', bad('invalid url: http://127.0.0.1:7860?: a server URL takes no query or fragment')],
    ['a fragment', 'http://127.0.0.1:7860#top', bad('invalid url: http://127.0.0.1:7860#top: a server URL takes no query or fragment')],
  ];

  for (const route of ['register', 'unregister'] as const) {
    it(`${route}: every malformed body is 400 with its message (sd-proxy-server: 500 "invalid url: <body>")`, async () => {
      for (const [what, body, text] of cases) {
        const r = await post(ep, `/admin/${route}/image`, body);
        expect(r.status, what).toBe(400);
        expect(r.contentType, what).toMatch(/^text\/plain/);
        expect(r.text, what).toBe(text);
      }
      const long = `http://${'x'.repeat(300)} y`;
      expect((await post(ep, `/admin/${route}/image`, long)).text).toBe(bad(`invalid url: ${long.slice(0, 200)}…`));
      expect((await post(ep, `/admin/${route}/text`, simB.url)).text).toBe('400 Bad Request: invalid url type: text');
      expect((await post(ep, `/admin/${route}/text`, simB.url)).status).toBe(400);
      // Nothing was added or removed.
      expect((await post(ep, '/admin/servers')).text).toBe(servers(slash(simA.url)));
      expect(pool.backends).toHaveLength(1);
    });
  }

  it('other methods are 405 with Allow: POST (axum: 405, empty body)', async () => {
    for (const path of ['/admin/servers', '/admin/register/image', '/admin/unregister/image']) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const r = await post(ep, path, undefined, {}, method);
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.allow).toBe('POST');
        expect(r.text).toBe('405 Method Not Allowed: use POST');
      }
    }
  });

  it('a body over 64 KiB is 413 {"error"} from the endpoint', async () => {
    const r = await post(ep, '/admin/register/image', `http://127.0.0.1:1/${'a'.repeat(70 * 1024)}`);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.text)).toEqual({ error: `request body is ${70 * 1024 + 19} bytes; /admin/register/{type} accepts at most 65536 bytes` });
  });

  it('the routes exist only when startEndpoint is given a registry', async () => {
    for (const path of ['/admin/servers', '/admin/register/image', '/admin/unregister/image']) {
      const r = await post(bare, path, simB.url);
      expect(r.status).toBe(404);
      expect(JSON.parse(r.text)).toEqual({ error: `no route POST ${path}` });
    }
  });

  it('with nothing registered, /admin/servers is {"image":[]}; a server registered again serves again', async () => {
    expect((await post(ep, '/admin/unregister/image', simA.url)).text).toBe(unregistered(slash(simA.url)));
    const r = await post(ep, '/admin/servers');
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"image":[]}');
    expect(pool.readyCount).toBe(0);
    expect((await post(ep, '/admin/register/image', simA.url)).text).toBe(registered(slash(simA.url)));
    await until(() => pool.readyCount === 1, 'A ready again');
    expect((await post(ep, '/admin/servers')).text).toBe(servers(slash(simA.url)));
  });
});

describe('admin API: the endpoint API key', () => {
  it('is required like on the public API: 401 {"error"} without it or with another key; Bearer or raw key accepted', async () => {
    const missing = await post(keyed, '/admin/register/image', simB.url);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.text)).toEqual({ error: 'missing API key: send the header "Authorization: Bearer <RUNPOD_API_KEY>"' });
    const wrong = await post(keyed, '/admin/servers', undefined, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text)).toEqual({ error: 'invalid API key in the Authorization header' });
    expect((await post(keyed, '/admin/unregister/image', simA.url)).status).toBe(401);
    expect(keyedPool.backends.map((b) => b.url)).toEqual([simA.url]);

    const reg = await post(keyed, '/admin/register/image', simB.url, { authorization: `Bearer ${KEY}` });
    expect(reg.status).toBe(200);
    expect(reg.text).toBe(registered(slash(simB.url)));
    expect((await post(keyed, '/admin/servers', undefined, { authorization: KEY })).text).toBe(servers(slash(simA.url), slash(simB.url)));
    await until(() => keyedPool.readyCount === 2, 'two ready backends');
    const un = await post(keyed, '/admin/unregister/image', simB.url, { authorization: `bearer ${KEY}` });
    expect(un.text).toBe(unregistered(slash(simB.url)));
    expect(keyedPool.backends.map((b) => b.url)).toEqual([simA.url]);
  });

  it('the endpoint without a key serves the admin routes to anyone', async () => {
    expect((await post(ep, '/admin/servers', undefined, { authorization: 'Bearer whatever' })).status).toBe(200);
  });
});
