/**
 * Integration tests of the A1111 API simulator (sim/) over real loopback HTTP.
 */
import http from 'node:http';
import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, parseCli } from '../../sim/main.js';
import { startSimulator, type SimRequestRecord, type Simulator } from '../../sim/server.js';
import { SEED_004 } from '../helpers/fixtures.js';
import { until } from '../helpers/wait.js';

/** The demo payload of seed 004 (`input.payload`). */
const SEED_004_PAYLOAD = SEED_004.input.payload;

interface GenResponse {
  images: string[];
  parameters: Record<string, unknown>;
  info: string;
}

interface ProgressBody {
  progress: number;
  eta_relative: number;
  state: { job_count: number; job_no: number; sampling_step: number; sampling_steps: number; interrupted: boolean; job: string };
  current_image: string | null;
  textinfo: string | null;
}

/** Reads the text chunks of a PNG (independent of the simulator's own code). */
function pngTexts(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 8;
  while (off + 12 <= buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (type === 'tEXt') {
      const data = buf.subarray(off + 8, off + 8 + len);
      const z = data.indexOf(0);
      out[data.toString('latin1', 0, z)] = data.toString('latin1', z + 1);
    }
    if (type === 'IEND') break;
    off += 12 + len;
  }
  return out;
}

function client(baseURL: string): AxiosInstance {
  return axios.create({
    baseURL,
    validateStatus: () => true,
    httpAgent: new http.Agent({ keepAlive: false }),
    maxContentLength: Infinity,
    maxBodyLength: Infinity,
  });
}

function decodePng(b64: string): PNG {
  return PNG.sync.read(Buffer.from(b64, 'base64'));
}

async function axiosError(p: Promise<AxiosResponse>): Promise<AxiosError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AxiosError) return e;
    throw e;
  }
  throw new Error('request unexpectedly succeeded');
}

describe('A1111 simulator', () => {
  let sim: Simulator;
  let api: AxiosInstance;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 5 });
    api = client(sim.url);
  });
  afterAll(async () => {
    await sim.close();
  });

  it('serves seed 004 txt2img: 1024x1024 PNG with infotext, info with resolved seed', async () => {
    const res = await api.post<GenResponse>('/sdapi/v1/txt2img', SEED_004_PAYLOAD);
    expect(res.status).toBe(200);
    expect(Object.keys(res.data).sort()).toEqual(['images', 'info', 'parameters']);
    expect(res.data.images).toHaveLength(1);
    const buf = Buffer.from(res.data.images[0], 'base64');
    expect(buf.length).toBeGreaterThan(1.5 * 1024 * 1024);
    const png = decodePng(res.data.images[0]);
    expect([png.width, png.height]).toEqual([1024, 1024]);

    const info = JSON.parse(res.data.info) as Record<string, unknown>;
    const seed = info['seed'] as number;
    expect(Number.isInteger(seed)).toBe(true);
    expect(seed).toBeGreaterThanOrEqual(0);
    expect(seed).toBeLessThan(4294967294);
    expect(info['all_seeds']).toEqual([seed]);
    expect(info['sampler_name']).toBe('DPM++ SDE');
    expect(info['sd_model_name']).toBe('sd_xl_base_1.0');
    expect(info['job_timestamp']).toMatch(/^\d{14}$/);
    const infotexts = info['infotexts'] as string[];
    expect(infotexts[0]).toMatch(
      new RegExp(
        `^an astronaut riding a horse\\nSteps: 30, Sampler: DPM\\+\\+ SDE, Schedule type: Karras, CFG scale: 7\\.0, Seed: ${seed}, Size: 1024x1024, Model hash: [0-9a-f]{10}, Model: sd_xl_base_1\\.0, .*Version: v1\\.10\\.1$`,
      ),
    );
    expect(pngTexts(buf)['parameters']).toBe(infotexts[0]);
    // parameters echo the request with defaults filled; seed stays as sent
    expect(res.data.parameters['seed']).toBe(-1);
    expect(res.data.parameters['n_iter']).toBe(1);
    expect(res.data.parameters['send_images']).toBe(true);
  });

  it('is deterministic: same seed + prompt + size give byte-identical PNGs', async () => {
    const body = { prompt: 'a lighthouse', seed: 123, width: 512, height: 512, steps: 4 };
    const [a, b] = await Promise.all([api.post<GenResponse>('/sdapi/v1/txt2img', body), api.post<GenResponse>('/sdapi/v1/txt2img', body)]);
    expect(a.data.images[0]).toBe(b.data.images[0]);
    const size = Buffer.from(a.data.images[0], 'base64').length;
    expect(size).toBeGreaterThan(300 * 1024);
    expect(size).toBeLessThan(600 * 1024);
    const c = await api.post<GenResponse>('/sdapi/v1/txt2img', { ...body, seed: 124 });
    expect(c.data.images[0]).not.toBe(a.data.images[0]);
    const batch = await api.post<GenResponse>('/sdapi/v1/txt2img', { ...body, batch_size: 2, n_iter: 2 });
    expect(batch.data.images).toHaveLength(4);
    expect(batch.data.images[0]).toBe(a.data.images[0]);
    expect(JSON.parse(batch.data.info).all_seeds).toEqual([123, 124, 125, 126]);
    expect(batch.data.images[1]).toBe(c.data.images[0]);
  });

  it('runs one generation at a time (queue lock) and reports progress until idle', async () => {
    const body = { prompt: 'queue', steps: 40, n_iter: 2, width: 64, height: 64 }; // 2 x 40 x 5 ms = 400 ms each
    const t0 = performance.now();
    const samples: ProgressBody[] = [];
    let done = false;
    const both = Promise.all([api.post<GenResponse>('/sdapi/v1/txt2img', body), api.post<GenResponse>('/sdapi/v1/txt2img', body)]).finally(() => {
      done = true;
    });
    while (!done) {
      const p = await api.get<ProgressBody>('/sdapi/v1/progress');
      samples.push(p.data);
      await new Promise((r) => setTimeout(r, 25));
    }
    const [r1, r2] = await both;
    const elapsed = performance.now() - t0;
    expect(r1.status).toBe(200);
    expect(r2.status).toBe(200);
    expect(elapsed).toBeGreaterThanOrEqual(780);
    const recs = sim.requests.filter((r) => r.path === '/sdapi/v1/txt2img' && r.receivedAt >= performance.timeOrigin + t0 - 1);
    const ends = recs.map((r) => r.respondedAt).sort((a, b) => a - b);
    expect(ends[1] - ends[0]).toBeGreaterThanOrEqual(380);

    const running = samples.filter((s) => s.state.job_count > 0 && s.state.sampling_steps === 40);
    expect(running.length).toBeGreaterThan(3);
    expect(running.some((s) => s.progress > 0.01 && s.progress < 1)).toBe(true);
    expect(running.some((s) => s.state.job_no === 1)).toBe(true);
    expect(running.every((s) => s.state.job_count === 2)).toBe(true);
    const withImage = running.find((s) => s.current_image !== null);
    expect(withImage).toBeDefined();
    expect(decodePng(withImage?.current_image as string).width).toBe(8);

    const idle = await api.get<ProgressBody>('/sdapi/v1/progress');
    expect(idle.data.progress).toBe(0);
    expect(idle.data.eta_relative).toBe(0);
    expect(idle.data.state.job_count).toBe(0);
    expect(idle.data.current_image).toBeNull();
  });

  it('interrupt ends a long generation early with 200', async () => {
    const t0 = performance.now();
    const gen = api.post<GenResponse>('/sdapi/v1/txt2img', { prompt: 'long', steps: 2000, n_iter: 3, width: 64, height: 64 });
    await new Promise((r) => setTimeout(r, 150)); // (pacing: interrupt a generation under way)
    const intr = await api.post('/sdapi/v1/interrupt');
    expect(intr.status).toBe(200);
    expect(intr.data).toEqual({});
    const res = await gen;
    expect(performance.now() - t0).toBeLessThan(10_000); // not the 30 s of the whole generation
    expect(res.status).toBe(200);
    // A1111 keeps the partly denoised batch it was sampling; later batches never start
    expect(res.data.images.length).toBeLessThanOrEqual(1);
    const after = await api.get<ProgressBody>('/sdapi/v1/progress');
    expect(after.data.state.interrupted).toBe(true);
    expect(after.data.state.job_count).toBe(0);
  });

  it('answers errors in A1111/FastAPI shapes', async () => {
    const kill = await api.post('/sdapi/v1/server-kill');
    expect(kill.status).toBe(404);
    expect(kill.data).toEqual({ detail: 'Not Found' });

    const wrongMethod = await api.get('/sdapi/v1/txt2img');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.data).toEqual({ detail: 'Method Not Allowed' });

    const badType = await api.post('/sdapi/v1/txt2img', { steps: 'abc', unknown_field: 1 });
    expect(badType.status).toBe(422);
    expect(badType.data).toEqual({ detail: [{ loc: ['body', 'steps'], msg: 'value is not a valid integer', type: 'type_error.integer' }] });

    const notObject = await api.post('/sdapi/v1/txt2img', 'plain text', { headers: { 'content-type': 'text/plain' } });
    expect(notObject.status).toBe(422);
    expect(notObject.data).toEqual({ detail: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }] });

    const badJson = await api.post('/sdapi/v1/txt2img', '{"steps": ', {
      headers: { 'content-type': 'application/json' },
      transformRequest: [(d: unknown) => d],
    });
    expect(badJson.status).toBe(422);
    expect((badJson.data as { detail: { type: string }[] }).detail[0].type).toBe('value_error.jsondecode');

    const noInit = await api.post('/sdapi/v1/img2img', { prompt: 'x' });
    expect(noInit.status).toBe(404);
    expect(noInit.data).toEqual({ error: 'HTTPException', detail: 'Init image not found', body: '', errors: '' });

    const badImage = await api.post('/sdapi/v1/img2img', { init_images: ['not-an-image'] });
    expect(badImage.status).toBe(500);
    expect(badImage.data).toMatchObject({ error: 'HTTPException', detail: 'Invalid encoded image' });

    const badModel = await api.post('/sdapi/v1/options', { sd_model_checkpoint: 'no_such_model' });
    expect(badModel.status).toBe(500);
    expect(badModel.data).toEqual({ error: 'RuntimeError', detail: '', body: '', errors: "model 'no_such_model' not found" });

    const badScript = await api.post('/sdapi/v1/txt2img', { script_name: 'nope' });
    expect(badScript.status).toBe(422);
    expect(badScript.data).toMatchObject({ error: 'HTTPException', detail: "Script 'nope' not found" });

    const badInterrogate = await api.post('/sdapi/v1/interrogate', { image: (await tinyPng(api)).b64, model: 'blip' });
    expect(badInterrogate.status).toBe(404);
    expect(badInterrogate.data).toMatchObject({ error: 'HTTPException', detail: 'Model not found' });
  });

  it('serves list routes, options and sampler resolution like A1111', async () => {
    const models = await api.get<{ title: string; model_name: string }[]>('/sdapi/v1/sd-models');
    expect(models.data.map((m) => m.model_name)).toEqual(expect.arrayContaining(['sd_xl_base_1.0', 'sd_xl_refiner_1.0']));
    const samplers = await api.get<{ name: string }[]>('/sdapi/v1/samplers');
    expect(samplers.data.map((s) => s.name)).toEqual(expect.arrayContaining(['DPM++ SDE', 'DPM++ 2M', 'Euler a', 'Euler']));
    const schedulers = await api.get<{ name: string; label: string }[]>('/sdapi/v1/schedulers');
    expect(schedulers.data.map((s) => s.name)).toContain('align_your_steps');
    const flags = await api.get<Record<string, unknown>>('/sdapi/v1/cmd-flags');
    expect(flags.data).toMatchObject({ api: true, nowebui: true });
    expect((await api.get('/sdapi/v1/embeddings')).data).toEqual({ loaded: {}, skipped: {} });
    const scripts = await api.get<{ txt2img: string[]; img2img: string[] }>('/sdapi/v1/scripts');
    expect(scripts.data.txt2img).toContain('x/y/z plot');

    const set = await api.post('/sdapi/v1/options', { sd_model_checkpoint: 'sd_xl_refiner_1.0', CLIP_stop_at_last_layers: 1 });
    expect(set.status).toBe(200);
    expect(set.data).toBeNull();
    const opts = await api.get<Record<string, unknown>>('/sdapi/v1/options');
    expect(opts.data['sd_model_checkpoint']).toMatch(/^sd_xl_refiner_1\.0\.safetensors \[[0-9a-f]{10}\]$/);
    await api.post('/sdapi/v1/options', { sd_model_checkpoint: 'sd_xl_base_1.0' });

    const res = await api.post<GenResponse>('/sdapi/v1/txt2img', { prompt: 'p', sampler_name: 'DPM++ 2M Karras', steps: 2, width: 64, height: 64, send_images: false });
    expect(res.data.images).toEqual([]);
    const info = JSON.parse(res.data.info) as { sampler_name: string; infotexts: string[] };
    expect(info.sampler_name).toBe('DPM++ 2M');
    const unknown = await api.post<GenResponse>('/sdapi/v1/txt2img', { sampler_name: 'no such sampler', steps: 1, width: 64, height: 64, send_images: false });
    expect(JSON.parse(unknown.data.info).sampler_name).toBe('DPM++ 2M');
    const dflt = await api.post<GenResponse>('/sdapi/v1/txt2img', { steps: 1, width: 64, height: 64, send_images: false });
    const dInfo = JSON.parse(dflt.data.info) as { sampler_name: string; cfg_scale: number };
    expect(dInfo.sampler_name).toBe('Euler');
    expect(dInfo.cfg_scale).toBe(7);
    expect(dflt.data.parameters['steps']).toBe(1);
    expect(dflt.data.parameters['batch_size']).toBe(1);
  });

  it('round-trips the infotext through png-info', async () => {
    const res = await api.post<GenResponse>('/sdapi/v1/txt2img', {
      prompt: 'a red fox, snow',
      negative_prompt: 'blurry',
      seed: 42,
      steps: 30,
      width: 64,
      height: 96,
      cfg_scale: 6.5,
    });
    const info = await api.post<{ info: string; items: Record<string, unknown>; parameters: Record<string, unknown> }>('/sdapi/v1/png-info', {
      image: `data:image/png;base64,${res.data.images[0]}`,
    });
    expect(info.status).toBe(200);
    expect(info.data.info).toBe((JSON.parse(res.data.info) as { infotexts: string[] }).infotexts[0]);
    expect(info.data.items).toEqual({});
    expect(info.data.parameters).toMatchObject({
      Prompt: 'a red fox, snow',
      'Negative prompt': 'blurry',
      Steps: '30',
      Sampler: 'Euler',
      'CFG scale': '6.5',
      Seed: '42',
      'Size-1': '64',
      'Size-2': '96',
      'Clip skip': '1',
    });
  });

  it('upscales with extra-single-image and extra-batch-images', async () => {
    const { b64 } = await tinyPng(api);
    const by2 = await api.post<{ html_info: string; image: string }>('/sdapi/v1/extra-single-image', { image: b64, upscaler_1: 'Lanczos', upscaling_resize: 2 });
    expect(by2.status).toBe(200);
    const png = decodePng(by2.data.image);
    expect([png.width, png.height]).toEqual([128, 128]);
    expect(by2.data.html_info).toBe('<p>Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos</p>');
    expect(pngTexts(Buffer.from(by2.data.image, 'base64'))['postprocessing']).toBe('Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos');

    const to = await api.post<{ image: string }>('/sdapi/v1/extra-single-image', {
      image: b64,
      upscaler_1: 'R-ESRGAN 4x+',
      resize_mode: 1,
      upscaling_resize_w: 100,
      upscaling_resize_h: 60,
    });
    const p2 = decodePng(to.data.image);
    expect([p2.width, p2.height]).toEqual([100, 60]);

    const batch = await api.post<{ images: string[] }>('/sdapi/v1/extra-batch-images', {
      imageList: [
        { data: b64, name: 'a.png' },
        { data: b64, name: 'b.png' },
      ],
      upscaler_1: 'Nearest',
      upscaling_resize: 1.5,
    });
    expect(batch.data.images.map((i) => decodePng(i).width)).toEqual([96, 96]);

    const unknown = await api.post('/sdapi/v1/extra-single-image', { image: b64, upscaler_1: 'Magic' });
    expect(unknown.status).toBe(500);
    expect(unknown.data).toMatchObject({ error: 'AssertionError', errors: 'could not find upscaler named Magic' });
  });

  it('applies injected faults of every kind, in order, per route', async () => {
    const viaHttp = await api.post('/sim/faults', { kind: 'status', status: 503, count: 2, route: 'sd-models' });
    expect(viaHttp.status).toBe(200);
    expect((await api.get('/sdapi/v1/samplers')).status).toBe(200); // other route unaffected
    const f1 = await api.get('/sdapi/v1/sd-models');
    expect(f1.status).toBe(503);
    expect(f1.data).toEqual({ error: 'HTTPException', detail: 'Service Unavailable', body: '', errors: '' });
    expect((await api.get('/sdapi/v1/sd-models')).status).toBe(503);
    expect((await api.get('/sdapi/v1/sd-models')).status).toBe(200);

    sim.injectFault({ kind: 'status', status: 500, count: 1, route: 'txt2img' });
    const oom = await api.post('/sdapi/v1/txt2img', { steps: 1 });
    expect(oom.status).toBe(500);
    expect(oom.data).toMatchObject({ error: 'OutOfMemoryError' });

    sim.injectFault({ kind: 'hang', count: 1, route: 'txt2img' });
    const hang = await axiosError(api.post('/sdapi/v1/txt2img', { steps: 1 }, { timeout: 300 }));
    expect(hang.code).toBe('ECONNABORTED');

    sim.injectFault({ kind: 'close', count: 1 });
    const reset = await axiosError(api.get('/sdapi/v1/progress'));
    expect(reset.code === 'ECONNRESET' || /socket hang up/.test(reset.message)).toBe(true);

    sim.injectFault({ kind: 'garbage', count: 1, route: 'sd-models' });
    const garbage = await api.get<string>('/sdapi/v1/sd-models', { responseType: 'text', transitional: { silentJSONParsing: true } });
    expect(garbage.status).toBe(200);
    expect(() => JSON.parse(garbage.data)).toThrow();

    expect((await api.get('/sdapi/v1/sd-models')).status).toBe(200);
    const pending = await api.get<{ faults: unknown[] }>('/sim/faults');
    expect(pending.data.faults).toEqual([]);
  });

  it('logs every request with body, status and timings', async () => {
    const since = sim.requests.length;
    const before = performance.timeOrigin + performance.now();
    const body = { prompt: 'logged', steps: 3, width: 64, height: 64, send_images: false };
    await api.post('/sdapi/v1/txt2img', body);
    await api.get('/sdapi/v1/progress?skip_current_image=true');
    const log = await api.get<SimRequestRecord[]>(`/sim/requests?since=${since}`);
    expect(log.data).toHaveLength(2);
    const [gen, prog] = log.data;
    expect(gen).toMatchObject({ method: 'POST', path: '/sdapi/v1/txt2img', body, status: 200 });
    expect(gen.receivedAt).toBeGreaterThanOrEqual(before);
    expect(gen.respondedAt - gen.receivedAt).toBeGreaterThanOrEqual(14);
    expect(prog).toMatchObject({ method: 'GET', path: '/sdapi/v1/progress', query: { skip_current_image: 'true' }, body: null, status: 200 });
    expect(sim.requests[since]).toMatchObject({ path: '/sdapi/v1/txt2img' });
    const cleared = await api.delete<{ cleared: number }>('/sim/requests');
    expect(cleared.data.cleared).toBeGreaterThan(0);
    expect(sim.requests).toHaveLength(0);
  });
});

describe('A1111 simulator start-up and model load', () => {
  it('refuses connections until startupDelayMs, then pays the first model load', async () => {
    const t0 = performance.now();
    const sim = await startSimulator({ port: 0, startupDelayMs: 400, firstLoadDelayMs: 1500, stepMs: 1 });
    try {
      const api = client(sim.url);
      const refused = await axiosError(api.get('/sdapi/v1/sd-models'));
      expect(refused.code).toBe('ECONNREFUSED');
      await sim.ready;
      expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
      expect((await api.get('/sdapi/v1/sd-models')).status).toBe(200);

      // interrupt during the model load: nothing sampled, 200 with no images
      const g0 = performance.now();
      const gen = api.post<GenResponse>('/sdapi/v1/txt2img', { steps: 5, width: 64, height: 64 });
      await until(() => sim.requests.some((r) => r.path === '/sdapi/v1/txt2img'), 'the generation at the simulator'); // it loads for 1.5 s
      const prog = await api.get<ProgressBody>('/sdapi/v1/progress');
      expect(prog.data.state.job_count).toBe(-1);
      await api.post('/sdapi/v1/interrupt');
      const res = await gen;
      expect(res.status).toBe(200);
      expect(res.data.images).toEqual([]);
      expect(performance.now() - g0).toBeGreaterThanOrEqual(1490);

      // model now loaded: no extra delay
      const g1 = performance.now();
      const again = await api.post<GenResponse>('/sdapi/v1/txt2img', { steps: 5, width: 64, height: 64 });
      expect(again.data.images).toHaveLength(1);
      expect(performance.now() - g1).toBeLessThan(1000); // not the 1.5 s load again
    } finally {
      await sim.close();
    }
  });
});

/** A small PNG produced by the simulator itself (64x64), as base64. */
async function tinyPng(api: AxiosInstance): Promise<{ b64: string }> {
  const res = await api.post<GenResponse>('/sdapi/v1/txt2img', { prompt: 'tiny', seed: 7, steps: 1, width: 64, height: 64 });
  return { b64: res.data.images[0] };
}

describe('A1111 simulator: seeded random faults', () => {
  /** Sends `n` txt2img requests (and an ineligible GET every 10th); returns what each txt2img got. */
  async function drive(sim: Simulator, n: number): Promise<string[]> {
    const api = client(sim.url);
    const seq: string[] = [];
    for (let i = 0; i < n; i++) {
      if (i % 10 === 0) expect((await api.get('/sdapi/v1/samplers')).status).toBe(200);
      try {
        const r = await api.post<string>('/sdapi/v1/txt2img', { prompt: `r${i}`, steps: 1, width: 64, height: 64 }, { responseType: 'text', transitional: { silentJSONParsing: true } });
        if (r.status === 500) {
          expect(JSON.parse(r.data)).toMatchObject({ error: 'OutOfMemoryError' });
          seq.push('status');
        } else {
          expect(r.status).toBe(200);
          try {
            JSON.parse(r.data);
            seq.push('ok');
          } catch {
            seq.push('garbage');
          }
        }
      } catch (e) {
        expect(e instanceof AxiosError && (e.code === 'ECONNRESET' || /socket hang up/.test(e.message))).toBe(true);
        seq.push('close');
      }
    }
    return seq;
  }

  it('faults eligible requests at the rate asked, with every kind, the same way for the same seed, and counts them', async () => {
    const runs: Array<{ seq: string[]; stats: ReturnType<Simulator['faultStats']>; state: { fault_stats: unknown } }> = [];
    for (const seed of [11, 11, 12]) {
      const sim = await startSimulator({ port: 0, stepMs: 0, randomFaults: { rate: 0.3, seed, routes: ['/sdapi/v1/txt2img'] } });
      try {
        const seq = await drive(sim, 80);
        const state = (await client(sim.url).get<{ fault_stats: unknown }>('/sim/state')).data;
        runs.push({ seq, stats: sim.faultStats(), state });
      } finally {
        await sim.close();
      }
    }
    const [a, b, c] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
    expect(b.seq).toEqual(a.seq);
    expect(c.seq).not.toEqual(a.seq);
    const n = (k: string): number => a.seq.filter((x) => x === k).length;
    for (const k of ['status', 'close', 'garbage']) expect(n(k)).toBeGreaterThan(0);
    expect(n('ok')).toBeGreaterThan(40);
    expect(n('ok')).toBeLessThan(72);
    expect(a.stats).toEqual({
      requests: 88,
      eligible: 80,
      injected: 0,
      random: { total: 80 - n('ok'), byKind: { status: n('status'), close: n('close'), garbage: n('garbage') }, byRoute: { txt2img: 80 - n('ok') } },
    });
    expect(a.state.fault_stats).toEqual(a.stats);
  });

  it('injected faults win and take no random draw; kinds can be restricted; bad options are refused', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 0, randomFaults: { rate: 1, seed: 1, kinds: ['close'] } });
    try {
      const api = client(sim.url);
      sim.injectFault({ kind: 'status', status: 503, count: 1 });
      expect((await api.get('/sdapi/v1/sd-models')).status).toBe(503);
      const reset = await axiosError(api.get('/sdapi/v1/sd-models'));
      expect(reset.code === 'ECONNRESET' || /socket hang up/.test(reset.message)).toBe(true);
      expect((await api.get('/sim/state')).status).toBe(200); // control routes are never faulted
      expect(sim.faultStats()).toEqual({ requests: 2, eligible: 1, injected: 1, random: { total: 1, byKind: { status: 0, close: 1, garbage: 0 }, byRoute: { 'sd-models': 1 } } });
    } finally {
      await sim.close();
    }
    await expect(startSimulator({ port: 0, randomFaults: { rate: 2, seed: 1 } })).rejects.toThrow(/randomFaults\.rate must be a number 0\.\.1/);
    await expect(startSimulator({ port: 0, randomFaults: { rate: 0.1, seed: 1, kinds: [] } })).rejects.toThrow(/randomFaults\.kinds/);
  });

  it('the CLI takes --fault-rate, --fault-seed, --fault-kinds and --fault-routes (or SIM_FAULT_*)', () => {
    expect(parseCli(['--fault-rate', '0.2', '--fault-seed', '5', '--fault-kinds', 'status,close', '--fault-routes=txt2img,img2img'], {})).toMatchObject({
      options: { randomFaults: { rate: 0.2, seed: 5, kinds: ['status', 'close'], routes: ['txt2img', 'img2img'] } },
    });
    expect(parseCli([], { SIM_FAULT_RATE: '0.1' })).toMatchObject({ options: { randomFaults: { rate: 0.1, seed: 0 } } });
    expect(parseCli([], {})).not.toHaveProperty('options.randomFaults');
    expect(() => parseCli(['--fault-rate', '1.5'], {})).toThrow(CliError);
    expect(() => parseCli(['--fault-rate', '0.1', '--fault-kinds', 'status,hang'], {})).toThrow(/unknown kind "hang"/);
    expect(() => parseCli(['--fault-seed', '3'], {})).toThrow(/need --fault-rate/);
  });
});

describe('A1111 simulator: name lists and model folders', () => {
  it('serves configured lists in A1111 shapes: prompt styles, LoRA aliases, upscalers, latent modes, scripts', async () => {
    const sim = await startSimulator({
      port: 0,
      stepMs: 0,
      loras: ['add_detail', { name: 'lcm-lora-sdxl', alias: 'lcm' }],
      styles: ['Cinematic', { name: 'Watercolor', prompt: '{prompt}, watercolor', negative_prompt: 'photo' }],
    });
    try {
      const api = client(sim.url);
      expect((await api.get('/sdapi/v1/prompt-styles')).data).toEqual([
        { name: 'Cinematic', prompt: 'Cinematic, {prompt}', negative_prompt: '' },
        { name: 'Watercolor', prompt: '{prompt}, watercolor', negative_prompt: 'photo' },
      ]);
      expect((await api.get('/sdapi/v1/loras')).data).toEqual([
        { name: 'add_detail', alias: 'add_detail', path: '/stable-diffusion-webui/models/Lora/add_detail.safetensors', metadata: {} },
        { name: 'lcm-lora-sdxl', alias: 'lcm', path: '/stable-diffusion-webui/models/Lora/lcm-lora-sdxl.safetensors', metadata: {} },
      ]);
      const upscalers = (await api.get<Record<string, unknown>[]>('/sdapi/v1/upscalers')).data;
      expect(upscalers[0]).toEqual({ name: 'None', model_name: null, model_path: null, model_url: null, scale: 4 });
      for (const u of upscalers) expect(Object.keys(u).sort()).toEqual(['model_name', 'model_path', 'model_url', 'name', 'scale']);
      expect((await api.get('/sdapi/v1/latent-upscale-modes')).data).toContainEqual({ name: 'Latent (nearest-exact)' });
      const scripts = (await api.get<{ txt2img: string[]; img2img: string[] }>('/sdapi/v1/scripts')).data;
      expect(scripts.img2img).toContain('loopback');
      expect(scripts.txt2img).not.toContain('loopback');
      expect((await api.get('/sdapi/v1/sd-vae')).data).toEqual([{ model_name: 'sdxl_vae.safetensors', filename: '/stable-diffusion-webui/models/VAE/sdxl_vae.safetensors' }]);
      // A LoRA used by its alias is found (Lora hashes in the infotext).
      const res = await api.post<GenResponse>('/sdapi/v1/txt2img', { prompt: 'a <lora:lcm:1>', steps: 1, width: 64, height: 64, send_images: false });
      expect(JSON.parse(res.data.info).infotexts[0]).toMatch(/Lora hashes: "lcm: [0-9a-f]{12}"/);
      // The default install has no styles.csv.
      const plain = await startSimulator({ port: 0 });
      expect((await client(plain.url).get('/sdapi/v1/prompt-styles')).data).toEqual([]);
      await plain.close();
    } finally {
      await sim.close();
    }
  });

  it('lists files added after start-up only after the matching refresh route, like A1111', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 0 });
    try {
      const api = client(sim.url);
      const names = async (route: string, key = 'name') => (await api.get<Record<string, string>[]>(`/sdapi/v1/${route}`)).data.map((x) => x[key]);
      sim.addFiles({ models: ['juggernautXL_v9'], vaes: ['other_vae.safetensors'], loras: [{ name: 'new_lora', alias: 'nl' }] });
      expect(await names('sd-models', 'model_name')).not.toContain('juggernautXL_v9');
      expect(await names('sd-vae', 'model_name')).not.toContain('other_vae.safetensors');
      expect(await names('loras')).not.toContain('new_lora');
      // POST /options refuses a checkpoint A1111 has not scanned yet.
      expect((await api.post('/sdapi/v1/options', { sd_model_checkpoint: 'juggernautXL_v9' })).status).toBe(500);

      for (const route of ['refresh-checkpoints', 'refresh-vae', 'refresh-loras']) {
        const r = await api.post(`/sdapi/v1/${route}`);
        expect(r.status).toBe(200);
        expect(r.data).toBeNull();
      }
      expect(await names('sd-models', 'model_name')).toContain('juggernautXL_v9');
      expect((await api.get<{ title: string }[]>('/sdapi/v1/sd-models')).data.at(-1)!.title).toMatch(/^juggernautXL_v9\.safetensors \[[0-9a-f]{10}\]$/);
      expect(await names('sd-vae', 'model_name')).toContain('other_vae.safetensors');
      expect((await api.get<{ name: string; alias: string }[]>('/sdapi/v1/loras')).data.at(-1)).toMatchObject({ name: 'new_lora', alias: 'nl' });
      expect((await api.post('/sdapi/v1/options', { sd_model_checkpoint: 'juggernautXL_v9' })).status).toBe(200);
      // Refreshing again adds nothing twice.
      sim.addFiles({ loras: ['new_lora'] });
      await api.post('/sdapi/v1/refresh-loras');
      expect((await names('loras')).filter((n) => n === 'new_lora')).toHaveLength(1);

      // A prompt's <lora:…> tag rescans the LoRA folder when the name is missing (A1111's load_networks).
      sim.addFiles({ loras: ['tag_lora'] });
      const res = await api.post<GenResponse>('/sdapi/v1/txt2img', { prompt: 'a <lora:tag_lora:1>', steps: 1, width: 64, height: 64, send_images: false });
      expect(JSON.parse(res.data.info).infotexts[0]).toMatch(/Lora hashes: "tag_lora: [0-9a-f]{12}"/);
      expect(await names('loras')).toContain('tag_lora');
    } finally {
      await sim.close();
    }
  });

  it('takes added files over the control route POST /sim/files too', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 0 });
    try {
      const api = client(sim.url);
      const ok = await api.post('/sim/files', { models: ['added.ckpt'], loras: ['l1', { name: 'l2', alias: 'two' }] });
      expect(ok.status).toBe(200);
      expect(ok.data).toEqual({ ok: true, pending: 3 });
      for (const bad of [null, [], { models: 'x' }, { models: [''] }, { vaes: [{ name: 'v' }] }, { other: [] }]) {
        const r = await api.post('/sim/files', bad);
        expect(r.status).toBe(400);
        expect(r.data).toHaveProperty('detail');
      }
      expect((await api.get('/sim/files')).status).toBe(405);
      await api.post('/sdapi/v1/refresh-checkpoints');
      expect((await api.get<{ title: string }[]>('/sdapi/v1/sd-models')).data.map((m) => m.title)).toContainEqual(expect.stringMatching(/^added\.ckpt \[/));
      expect(() => sim.addFiles({ loras: [7] } as unknown as Parameters<Simulator['addFiles']>[0])).toThrow(TypeError);
      // Control requests are not logged.
      expect(sim.requests.some((r) => r.path.startsWith('/sim/'))).toBe(false);
    } finally {
      await sim.close();
    }
  });
});
