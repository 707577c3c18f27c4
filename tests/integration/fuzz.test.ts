/**
 * Fuzz of the job handler (issue 4 "Bad input"): ≥ 10,000 seeded inputs — wrong types, huge strings, deep
 * nesting, unicode (lone surrogates, RTL, emoji, NUL), prototype-pollution keys, random routes and payloads,
 * mostly-valid payloads with one field mutated — each run through createA1111Handler against the A1111
 * simulator on loopback. For every input:
 * - the handler never throws;
 * - either the simulator logged exactly one call for the job, whose body is exactly the payload sent, and
 *   the result is A1111's answer (2xx) or an `A1111 <status> …` error; or the result is
 *   `{error: <non-empty one-line string>}` and the simulator logged nothing for the job.
 * After the run `Object.prototype` and `Array.prototype` have no new keys.
 *
 * Reproduce one input: the failure report prints the seed and the input index.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import { PNG } from 'pngjs';
import type { A1111Client } from '../../handler/a1111/client.js';
import type { A1111Lists } from '../../handler/a1111/lists.js';
import { loadConfig, type LimitsConfig } from '../../handler/config.js';
import { createA1111Handler, type JobContext } from '../../handler/jobs/handler.js';
import type { HostLookup } from '../../handler/jobs/images/images.js';
import { silentLog } from '../../handler/log.js';
import { RawJson } from '../../handler/runpod/index.js';
import type { Simulator } from '../../sim/server.js';
import { startHandlerBackends, type HandlerBackends } from '../helpers/handler-backends.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_a111);
const COUNT = Number(process.env.FUZZ_COUNT ?? 10_000);

/** mulberry32: a small seeded PRNG with 32-bit state. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly rand: () => number) {}
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** An object with these own entries; `__proto__` becomes an own key, as JSON.parse makes it. */
const obj = (entries: Array<[string, unknown]>): Record<string, unknown> => Object.fromEntries(entries) as Record<string, unknown>;

function pngB64(w: number, h: number): string {
  const png = new PNG({ width: w, height: h });
  png.data.fill(0x7f);
  return PNG.sync.write(png).toString('base64');
}
const PNG_64 = pngB64(64, 64);
const PNG_32 = pngB64(32, 32);

const UNICODE = [
  'a cat',
  '',
  ' ',
  'émoji 😀 👩‍👩‍👧‍👦 🏳️‍🌈',
  'RTL \u202etxet\u202c עברית مرحبا',
  'lone \ud800 high',
  'lone \udfff low',
  '\udc00\ud800 reversed pair',
  'NUL \u0000 inside',
  'controls \u0001\u0007\u001b[31m\u007f',
  'line\nbreak\r\n',
  'separators \u2028 \u2029',
  'zero\u200bwidth\ufeffbom',
  '<lora:x:1> BREAK (emphasis:1.5) [a:b:0.5]',
  '"quotes" \\ backslash / slash',
  '%s %d {0} ${x} {{x}}',
  '../../etc/passwd',
  'http://127.0.0.1:3000/sdapi/v1/server-kill',
  'ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ',
  '\u0301\u0302 combining only',
];
const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];
const FIELDS = [
  'prompt', 'negative_prompt', 'steps', 'width', 'height', 'seed', 'batch_size', 'n_iter', 'cfg_scale', 'sampler_name',
  'scheduler', 'enable_hr', 'hr_scale', 'hr_second_pass_steps', 'override_settings', 'alwayson_scripts', 'script_args',
  'init_images', 'mask', 'image', 'imageList', 'denoising_strength', 'styles', 'comments', 'model', 'api', 'payload',
  'method', 'endpoint', 'stepz', 'Prompt', 'num_inference_steps', '', ' ', 'a.b', 'a/b', '$ref', 'toString', 'valueOf',
  'hasOwnProperty', '__defineGetter__', '__lookupGetter__', 'isPrototypeOf', ...FORBIDDEN,
];
const NUMBERS = [0, -0, 1, -1, 2, 3, 7.5, -7.5, 63, 65, 100, 513, 4096, 10001, 1e21, -1e21, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 53 + 2, 0.1, 151, 400];
const METHODS: unknown[] = ['GET', 'POST', 'get', 'post', 'PUT', 'DELETE', 'PATCH', 'HEAD', '', ' POST', null, 1, true, ['POST'], {}];
const ENDPOINTS = [
  '/sdapi/v1/txt2img', 'sdapi/v1/txt2img', '/sdapi/v1/img2img', '/sdapi/v1/samplers', '/sdapi/v1/options', '/sdapi/v1/progress',
  '/sdapi/v1/server-kill', '/sdapi/v1/server-restart', '/sdapi/v1/server-stop', '/sdapi/v1/create/embedding', '/sdapi/v1/train/embedding',
  '/sdapi/v1/../v1/txt2img', '/sdapi/v1/..%2fserver-kill', '/sdapi/v1/%74xt2img', 'http://127.0.0.1:3000/sdapi/v1/txt2img',
  '//evil/sdapi/v1/txt2img', '/sdapi/v1/txt2img?x=1', '/sdapi/v1/txt2img#x', '/sdapi/v1/txt2img/', '/SDAPI/V1/TXT2IMG',
  '/sdapi/v1/interrupt', '/sdapi/v1/skip', '/sdapi/v1/unload-checkpoint', '/internal/ping', '/docs', '', '/sdapi/v1/__proto__',
  '/sdapi/v1/constructor', '/sdapi/v1/txt2img\u0000', '/sdapi/v1/txt2іmg', '\\sdapi\\v1\\txt2img',
];
const BAD_IMAGES = [
  'abc',
  'string',
  Buffer.from('<html><body>hi</body></html>').toString('base64'),
  Buffer.from('GIF89a\u0001\u0000\u0001\u0000').toString('base64'),
  PNG_64.slice(0, 40) + '\n' + PNG_64.slice(40),
  PNG_64.slice(0, 20) + '-_' + PNG_64.slice(22),
  PNG_64.replace(/=+$/, '') + 'A',
  PNG_64.slice(0, 30),
  `data:image/gif;base64,${Buffer.from('<svg/>').toString('base64')}`,
  `data:text/html;base64,${PNG_64}`,
  `data:image/png;base64,`,
  'file:///etc/passwd',
  'ftp://example.com/a.png',
  'http://127.0.0.1:3000/sdapi/v1/options',
  'http://169.254.169.254/latest/meta-data/',
  'http://localhost/a.png',
  'http://[::1]/a.png',
  'http://user:pw@images.example.com/a.png',
  'https://images.example.com/a.png',
  'http://2130706433/',
  'HTTP://images.example.com/a.png',
  '\u0000',
  'iVBORw0KGgo=',
];
const ALLOWED_OPTION_VALUES: Array<[string, Json]> = [
  ['CLIP_stop_at_last_layers', 2],
  ['eta_noise_seed_delta', 31337],
  ['s_noise', 1],
  ['eta_ancestral', 0.9],
  ['randn_source', 'CPU'],
  ['token_merging_ratio', 0.2],
  ['img2img_fix_steps', true],
  ['sd_vae', 'Automatic'],
  ['sd_model_checkpoint', 'v1-5-pruned-emaonly.safetensors'],
];

function randString(g: Gen): string {
  const r = g.int(10);
  if (r < 5) return g.pick(UNICODE);
  if (r < 7) return Array.from({ length: g.int(40) }, () => String.fromCharCode(g.int(0x10000))).join('');
  if (r < 9) return g.pick(UNICODE) + g.pick(UNICODE);
  return 'x'.repeat(g.int(5000));
}

function randValue(g: Gen, depth = 0): unknown {
  const r = g.int(depth > 3 ? 6 : 9);
  switch (r) {
    case 0:
      return null;
    case 1:
      return g.chance(0.5);
    case 2:
    case 3:
      return g.pick(NUMBERS);
    case 4:
    case 5:
      return randString(g);
    case 6:
      return Array.from({ length: g.int(5) }, () => randValue(g, depth + 1));
    default:
      return obj(Array.from({ length: g.int(5) }, () => [g.chance(0.8) ? g.pick(FIELDS) : randString(g), randValue(g, depth + 1)]));
  }
}

/** A valid, cheap txt2img payload (64–128 px, 1–3 steps). */
function validTxt2img(g: Gen): Record<string, unknown> {
  const p: Record<string, unknown> = {
    prompt: g.pick(UNICODE),
    steps: 1 + g.int(3),
    width: g.pick([64, 64, 64, 128]),
    height: g.pick([64, 64, 64, 128]),
  };
  if (g.chance(0.5)) p.seed = g.int(1000);
  if (g.chance(0.3)) p.sampler_name = g.pick(['Euler', 'Euler a', 'DPM++ 2M', 'DPM++ 2M Karras', 'nope']);
  if (g.chance(0.3)) p.batch_size = 1 + g.int(2);
  if (g.chance(0.2)) p.cfg_scale = g.pick([1, 7, 7.5]);
  if (g.chance(0.2)) Object.assign(p, { enable_hr: true, hr_scale: g.pick([1, 1.5]), hr_second_pass_steps: g.int(3) });
  if (g.chance(0.2)) p.override_settings = obj([g.pick(ALLOWED_OPTION_VALUES)]);
  if (g.chance(0.1)) p.negative_prompt = g.pick(UNICODE);
  if (g.chance(0.1)) p.send_images = g.chance(0.5);
  return p;
}

/** A valid cheap payload for a random route, as `{input}` (envelope or official shape). */
function validInput(g: Gen): { input: Record<string, unknown>; payloadKey: boolean } {
  const r = g.int(16);
  const envelope = (method: string, endpoint: string, payload?: unknown) =>
    obj([['api', obj([['method', method], ['endpoint', endpoint]])], ...(payload === undefined ? [] : ([['payload', payload]] as Array<[string, unknown]>))]);
  // Generations cost the simulator ~2.5 ms each, list routes ~0.5 ms: the mix keeps the run short.
  if (r < 2) return { input: validTxt2img(g), payloadKey: false };
  if (r < 3) return { input: envelope('POST', g.pick(['/sdapi/v1/txt2img', 'sdapi/v1/txt2img']), validTxt2img(g)), payloadKey: true };
  if (r < 5) {
    const p: Record<string, unknown> = { prompt: g.pick(UNICODE), steps: 1 + g.int(2), width: 64, height: 64, init_images: [g.pick([PNG_64, PNG_32, `data:image/png;base64,${PNG_64}`])] };
    if (g.chance(0.3)) p.mask = PNG_64;
    if (g.chance(0.3)) p.denoising_strength = g.pick([0, 0.5, 1]);
    return { input: envelope('POST', '/sdapi/v1/img2img', p), payloadKey: true };
  }
  if (r < 6) {
    const name = g.pick(['interrogate', 'png-info', 'extra-single-image']);
    return { input: envelope('POST', `/sdapi/v1/${name}`, { image: g.pick([PNG_64, PNG_32]) }), payloadKey: true };
  }
  if (r < 7) return { input: envelope('POST', '/sdapi/v1/extra-batch-images', { imageList: [{ data: PNG_32, name: 'a.png' }] }), payloadKey: true };
  if (r < 9) return { input: envelope('POST', '/sdapi/v1/options', obj([g.pick(ALLOWED_OPTION_VALUES)])), payloadKey: true };
  const get = g.pick(['samplers', 'schedulers', 'upscalers', 'sd-models', 'sd-vae', 'loras', 'options', 'cmd-flags', 'memory', 'progress', 'scripts', 'prompt-styles']);
  return { input: envelope(g.chance(0.8) ? 'GET' : 'get', `/sdapi/v1/${get}`, g.pick([undefined, null, {}])), payloadKey: true };
}

/** `levels` nested arrays or objects, made from JSON text as a job arrives. */
function deep(levels: number, g: Gen): unknown {
  const text = g.chance(0.5) ? '['.repeat(levels) + ']'.repeat(levels) : '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
  return JSON.parse(text) as unknown;
}

/** Changes one thing of a valid input. */
function mutate(g: Gen, input: Record<string, unknown>, payloadKey: boolean): Record<string, unknown> {
  const payload = (payloadKey ? input.payload : input) as Record<string, unknown> | undefined | null;
  const target = payload && typeof payload === 'object' && !Array.isArray(payload) ? payload : undefined;
  const r = g.int(12);
  if (!target || r === 0) {
    // Envelope: method, endpoint, extra keys, api of the wrong type.
    const api = input.api as Record<string, unknown> | undefined;
    const k = g.int(5);
    if (api && k === 0) api.method = g.pick(METHODS);
    else if (api && k === 1) api.endpoint = g.chance(0.8) ? g.pick(ENDPOINTS) : randValue(g);
    else if (api && k === 2) return obj([...Object.entries(input), [g.pick(FIELDS), randValue(g)]]);
    else if (k === 3) return obj([...Object.entries(input), ['api', randValue(g)]]);
    else return obj([...Object.entries(input), ['payload', randValue(g)]]);
    return input;
  }
  const keys = Object.keys(target);
  const key = keys.length ? g.pick(keys) : 'prompt';
  switch (r) {
    case 1:
    case 2:
      target[key] = randValue(g);
      break;
    case 3:
      target[key] = g.pick(NUMBERS);
      break;
    case 4:
      delete target[key];
      break;
    case 5: {
      const replaced = obj([...Object.entries(target), [g.pick(FORBIDDEN), randValue(g)]]);
      if (payloadKey) input.payload = replaced;
      else return replaced;
      break;
    }
    case 6:
      target[g.chance(0.5) ? g.pick(FIELDS) : randString(g)] = randValue(g);
      break;
    case 7:
      // An image field gets a bad image.
      if (Array.isArray(target.init_images)) target.init_images = [g.pick(BAD_IMAGES), ...(g.chance(0.5) ? [PNG_64] : [])];
      else if ('image' in target) target.image = g.pick(BAD_IMAGES);
      else if (Array.isArray(target.imageList)) target.imageList = [{ data: g.pick(BAD_IMAGES), name: 'x' }];
      else Object.assign(target, { enable_hr: true, denoising_strength: 0.5, firstpass_image: g.pick(BAD_IMAGES) });
      break;
    case 8:
      target.override_settings = obj([[g.chance(0.5) ? g.pick(['api_forbid_local_requests', 'api_enable_requests', 'outdir_samples', 'samples_save', 'sd_checkpoints_limit', ...FORBIDDEN]) : randString(g), randValue(g)]]);
      break;
    case 9:
      target.alwayson_scripts = { controlnet: { args: [{ image: g.pick(BAD_IMAGES), enabled: true }] } };
      break;
    case 10:
      target[key] = g.pick(UNICODE);
      break;
    default:
      target[g.pick(['steps', 'hr_second_pass_steps', 'width', 'height', 'batch_size', 'n_iter', 'hr_scale'])] = g.pick([0, -1, 151, 400, 2056, 4096, 10001, 7.5, 1e21, '20', null, true]);
      break;
  }
  return input;
}

/** One generated input; a few special ones at fixed indexes. */
function generate(g: Gen, i: number): unknown {
  // Huge strings (1–4 MB) in valid and invalid places.
  if (i % 2500 === 17) return { ...validTxt2img(g), prompt: 'p'.repeat(1 + g.int(4)) + 'x'.repeat((i === 17 ? 2 : 1) * 1024 * 1024) };
  if (i % 2000 === 1017) return { prompt: 'a', [randString(g).slice(0, 10) || 'k']: 'y'.repeat(3 * 1024 * 1024) };
  if (i % 2000 === 523) return { api: { method: 'POST', endpoint: '/sdapi/v1/img2img' }, payload: { init_images: ['A'.repeat(4 * 1024 * 1024)] } };
  // Deep nesting (10,000 to 100,000 levels) anywhere.
  if (i % 1000 === 99) return { ...validTxt2img(g), comments: deep(10_000, g) };
  if (i % 1000 === 599) return deep(g.chance(0.5) ? 10_000 : 100_000, g);
  if (i % 2000 === 1299) return { api: { method: 'POST', endpoint: '/sdapi/v1/options' }, payload: { sd_vae: deep(10_000, g) } };
  const r = g.int(100);
  if (r < 8) return randValue(g);
  if (r < 15) return obj([['api', obj([['method', g.pick(METHODS)], ['endpoint', g.chance(0.9) ? g.pick(ENDPOINTS) : randValue(g)]])], ['payload', randValue(g)]]);
  if (r < 20) return obj(Array.from({ length: g.int(8) }, () => [g.pick(FIELDS), randValue(g)]));
  const { input, payloadKey } = validInput(g);
  if (r < 50) return input;
  return mutate(g, input, payloadKey);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What the simulator must have received for a forwarded input: exactly the payload sent. */
function expectedBody(input: unknown, method: string): unknown {
  if (method === 'GET') return null;
  if (isObject(input) && Object.hasOwn(input, 'api')) return (Object.hasOwn(input, 'payload') ? input.payload : undefined) ?? {};
  return input;
}

function summary(input: unknown): string {
  try {
    const s = JSON.stringify(input);
    return s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s;
  } catch {
    return '(not serialisable: too deep)';
  }
}

/**
 * The one change the worker makes to a payload: an A1111 1.9+ combined sampler name ("DPM++ 2M Karras") split into
 * `sampler_name`/`sampler_index` + `scheduler`, as A1111 does. True when `got` is `sent` with exactly that change.
 */
function isCombinedNameSplit(sent: unknown, got: unknown): boolean {
  if (!isObject(sent) || !isObject(got)) return false;
  const keys = new Set([...Object.keys(sent), ...Object.keys(got)]);
  for (const k of keys) {
    if (isDeepStrictEqual(sent[k], got[k])) continue;
    if (k === 'scheduler' && sent[k] === undefined && typeof got[k] === 'string') continue;
    if ((k === 'sampler_name' || k === 'sampler_index') && typeof sent[k] === 'string' && typeof got[k] === 'string' && (sent[k] as string).startsWith(`${got[k] as string} `)) continue;
    return false;
  }
  return true;
}

let sim: Simulator;
let client: A1111Client;
let lists: A1111Lists;
let backends: HandlerBackends;

beforeAll(async () => {
  backends = await startHandlerBackends();
  ({ sim, client, lists } = backends);
});
afterAll(async () => {
  await backends.close();
});

describe('fuzz: the job handler against the simulator', () => {
  it(`answers ${COUNT} generated inputs with an A1111 call or a clear error, never throws, never pollutes prototypes`, async () => {
    const objectKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const arrayKeys = Object.getOwnPropertyNames(Array.prototype).sort();
    const limits: LimitsConfig = loadConfig([], {}).limits;
    // With ALLOW_IMAGE_URLS=true every name resolves to a private address: URLs are refused, never fetched.
    const privateDns: HostLookup = async () => [{ address: '10.0.0.1', family: 4 }];
    const handlers = [
      createA1111Handler({ client, limits, log: silentLog, lists, models: backends.models }),
      createA1111Handler({ client, limits: { ...limits, allowImageUrls: true }, log: silentLog, lookup: privateDns, lists, models: backends.models }),
    ];
    const ctx: JobContext = { signal: new AbortController().signal, rawJson: (bytes) => new RawJson(bytes), progress: () => undefined, stream: async () => undefined };
    const g = new Gen(mulberry32(SEED));
    const failures: string[] = [];
    const stats = { refused: 0, forwarded: 0, a1111Errors: 0, byRoute: new Map<string, number>() };
    const fail = (i: number, why: string, input: unknown) => {
      if (failures.length < 10) failures.push(`#${i} (FUZZ_SEED=${SEED}): ${why}; input ${summary(input)}`);
    };
    const t0 = performance.now();
    for (let i = 0; i < COUNT; i++) {
      const input = generate(g, i);
      const handler = handlers[i % 7 === 3 ? 1 : 0]!;
      const before = sim.requests.length;
      let out: unknown;
      try {
        out = await handler({ id: `fuzz-${i}`, input }, ctx);
      } catch (e) {
        fail(i, `the handler threw ${String(e)}`, input);
        continue;
      }
      if (out instanceof RawJson) out = JSON.parse(out.bytes.toString('utf8')) as unknown;
      const calls = sim.requests.slice(before);

      if (calls.length === 0) {
        stats.refused++;
        const ok = isObject(out) && Object.keys(out).length === 1 && typeof out.error === 'string' && out.error.length > 0 && !/[\n\r\u2028\u2029]/.test(out.error);
        if (!ok) fail(i, `no A1111 call but the result is not {error: <one line>}: ${summary(out)}`, input);
        continue;
      }
      stats.forwarded++;
      const call = calls[0]!;
      stats.byRoute.set(call.path, (stats.byRoute.get(call.path) ?? 0) + 1);
      if (calls.length !== 1) fail(i, `${calls.length} A1111 calls: ${calls.map((c) => c.path).join(', ')}`, input);
      if (!call.path.startsWith('/sdapi/v1/')) fail(i, `A1111 was called on ${call.path}`, input);
      // As JSON carries it (-0 arrives as 0).
      const sent = JSON.parse(JSON.stringify(expectedBody(input, call.method)) ?? 'null') as unknown;
      if (!isDeepStrictEqual(call.body, sent) && !isCombinedNameSplit(sent, call.body)) fail(i, `A1111 received another body than the payload sent`, input);
      if (call.status >= 200 && call.status < 300) {
        if (isObject(out) && 'error' in out) fail(i, `A1111 answered ${call.status} but the result is an error: ${summary(out)}`, input);
      } else {
        stats.a1111Errors++;
        if (!(isObject(out) && typeof out.error === 'string' && out.error.startsWith(`A1111 ${call.status} `))) {
          fail(i, `A1111 answered ${call.status} but the result is ${summary(out)}`, input);
        }
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `fuzz: ${COUNT} inputs in ${seconds.toFixed(1)} s (seed ${SEED}): ${stats.refused} refused without an A1111 call, ` +
        `${stats.forwarded} forwarded (${stats.a1111Errors} answered non-2xx by A1111); by route ${JSON.stringify(Object.fromEntries(stats.byRoute))}`,
    );
    expect(failures).toEqual([]);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(objectKeys);
    expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(arrayKeys);
    for (const k of ['polluted', 'api', 'payload', 'endpoint', 'method', 'steps', 'prompt', 'image']) {
      expect(({} as Record<string, unknown>)[k], k).toBeUndefined();
    }
    // The generator is not degenerate: both outcomes are well represented.
    expect(stats.refused).toBeGreaterThan(COUNT * 0.3);
    expect(stats.forwarded).toBeGreaterThan(COUNT * 0.15);
  }, 120_000);
});
