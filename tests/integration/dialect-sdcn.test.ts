/**
 * The SDCN task API dialect (seed 001; handler/jobs/dialects/sdcn.ts) through the real job handler (createA1111Handler)
 * against the A1111 simulator on loopback: the exact A1111 payload each SDCN request becomes (the simulator's
 * request log), the exact output in SDCN's shape, and refusals that name SDCN's fields without calling A1111.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { A1111Client } from '../../handler/a1111/client.js';
import { loadConfig, type OutputConfig } from '../../handler/config.js';
import { createA1111Handler, type JobContext } from '../../handler/jobs/handler.js';
import type { Log } from '../../handler/log.js';
import { RawJson } from '../../handler/runpod/index.js';
import type { SimRequestRecord } from '../../sim/server.js';
import { a1111Config } from '../helpers/fixtures.js';
import { startHandlerBackends, type HandlerBackends } from '../helpers/handler-backends.js';
import { ROOT } from '../helpers/root.js';
import { startS3Server, type S3Server } from '../helpers/s3-fixtures.js';
import { b64, pngBytes } from '../unit/image-fixtures.js';

const LIMITS = loadConfig([], {}).limits;
const PNG_64 = b64(pngBytes(64, 64));
const S3_KEY = ['AKIASDCNTESTKEY00001', 'sdcn-test-secret-0000000001'] as const;

let backends: HandlerBackends;
let jobNo = 0;

beforeAll(async () => {
  backends = await startHandlerBackends();
});
afterAll(async () => {
  await backends.close();
});

/** A Log that keeps every line. */
function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string, requestId?: string | null) => {
    lines.push(`${level} ${requestId ?? ''} ${message}`);
  };
  return { lines, trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

const ctx = (): JobContext => ({ signal: new AbortController().signal, rawJson: (bytes) => new RawJson(bytes), progress: () => undefined, stream: async () => undefined });

interface Run {
  /** the handler's result, parsed when it is raw JSON */
  out: Record<string, unknown>;
  /** the simulator's requests made by this job */
  calls: SimRequestRecord[];
  log: Log & { lines: string[] };
}

/** Runs one SDCN job `{api: {method, endpoint}, payload}` through a fresh handler on the shared backends. */
async function run(
  endpoint: string,
  payload: unknown,
  opts: { method?: string; strictNames?: boolean; output?: OutputConfig; s3Config?: unknown; extra?: Record<string, unknown> } = {},
): Promise<Run> {
  const log = recordingLog();
  const client =
    opts.strictNames !== undefined ? new A1111Client(a1111Config({ url: backends.sim.url, readyTimeoutMs: 5000, requestTimeoutMs: 30_000, strictNames: opts.strictNames }), log) : backends.client;
  const handler = createA1111Handler({ client, limits: LIMITS, log, lists: backends.lists, models: backends.models, ...(opts.output ? { output: opts.output } : {}) });
  const before = backends.sim.requests.length;
  const input = { api: { method: opts.method ?? 'POST', endpoint }, payload, ...opts.extra };
  const raw = await handler({ id: `sdcn-${++jobNo}`, input, ...(opts.s3Config ? { s3Config: opts.s3Config } : {}) }, ctx());
  const out = (raw instanceof RawJson ? JSON.parse(raw.bytes.toString('utf8')) : raw) as Record<string, unknown>;
  return { out, calls: backends.sim.requests.slice(before), log };
}

/** Runs a job that must be refused: returns the error, after checking A1111 was not called. */
async function refused(endpoint: string, payload: unknown, opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(endpoint, payload, opts);
  expect(r.calls).toEqual([]);
  expect(Object.keys(r.out)).toEqual(['error']);
  const error = r.out.error as string;
  expect(error).not.toMatch(/[\n\r]/);
  return error;
}

function pngSize(base64: string): [number, number] {
  const png = PNG.sync.read(Buffer.from(base64, 'base64'));
  return [png.width, png.height];
}

describe('SDCN /txt2img', () => {
  it("translates SDCN's example (loras, model, upscale) into one exact A1111 txt2img payload and answers {images}", async () => {
    const r = await run('/txt2img', {
      prompt: 'A dog',
      loras: [
        ['add_detail', 0.5],
        ['lcm-lora-sdxl', 0.6],
      ],
      seed: 1234,
      sampler_name: 'DDIM',
      steps: 3,
      cfg_scale: 7,
      width: 64,
      height: 64,
      negative_prompt: '',
      model: 'v1-5-pruned-emaonly.safetensors',
      upscale: { denoising_strength: 0.5, scale: 2, upscaler: 'Latent' },
    });
    expect(r.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual(['POST /sdapi/v1/txt2img 200']);
    expect(r.calls[0]!.body).toEqual({
      prompt: 'A dog,<lora:add_detail:0.5>,<lora:lcm-lora-sdxl:0.6>',
      seed: 1234,
      sampler_name: 'DDIM',
      steps: 3,
      cfg_scale: 7,
      width: 64,
      height: 64,
      negative_prompt: '',
      override_settings: { sd_model_checkpoint: 'v1-5-pruned-emaonly.safetensors' },
      enable_hr: true,
      hr_scale: 2,
      hr_upscaler: 'Latent',
      denoising_strength: 0.5,
    });
    expect(Object.keys(r.out)).toEqual(['images']);
    const images = r.out.images as string[];
    expect(images).toHaveLength(1);
    // The hires fix ran: 64 × 64 upscaled by 2.
    expect(pngSize(images[0]!)).toEqual([128, 128]);
  });

  it('passes the plain fields through unchanged and adds nothing (no defaults, no override_settings without model)', async () => {
    const r = await run('/txt2img', { prompt: 'a red fox', steps: 2, width: 64, height: 128, cfg_scale: 6.5 });
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]!.body).toEqual({ prompt: 'a red fox', steps: 2, width: 64, height: 128, cfg_scale: 6.5 });
    expect(Object.keys(r.out)).toEqual(['images']);
    expect(pngSize((r.out.images as string[])[0]!)).toEqual([64, 128]);
  });

  it('loras without a prompt: the tags alone, joined with "," and no leading ","; negative weights kept', async () => {
    const r = await run('/txt2img', { loras: [['add_detail', -0.25], ['lcm-lora-sdxl', 1]], steps: 1, width: 64, height: 64 });
    expect(r.calls[0]!.body).toEqual({ prompt: '<lora:add_detail:-0.25>,<lora:lcm-lora-sdxl:1>', steps: 1, width: 64, height: 64 });
    expect(Object.keys(r.out)).toEqual(['images']);
  });

  it('an empty loras list leaves the prompt as it is', async () => {
    const r = await run('/txt2img', { prompt: 'x', loras: [], steps: 1, width: 64, height: 64 });
    expect(r.calls[0]!.body).toEqual({ prompt: 'x', steps: 1, width: 64, height: 64 });
  });

  it('a checkpoint may be named by its sha256, as SDCN did', async () => {
    const models = (await (await fetch(`${backends.sim.url}/sdapi/v1/sd-models`)).json()) as Array<{ sha256: string; title: string }>;
    const sha = models[2]!.sha256;
    const r = await run('/txt2img', { prompt: 'x', model: sha, steps: 1, width: 64, height: 64 });
    expect(r.calls.filter((c) => c.path === '/sdapi/v1/txt2img').map((c) => c.body)).toEqual([
      { prompt: 'x', override_settings: { sd_model_checkpoint: sha }, steps: 1, width: 64, height: 64 },
    ]);
    expect(Object.keys(r.out)).toEqual(['images']);
  });

  it('an unknown LoRA is a warning (A1111 ignores it); with STRICT_NAMES=true refused with a did-you-mean naming loras[i][0]', async () => {
    const lax = await run('/txt2img', { prompt: 'x', loras: [['add_detail', 0.5], ['detail', 0.5]] });
    expect(lax.out.error).toBeUndefined();
    expect(lax.log.lines.some((l) => l.includes('loras[1][0]: LoRA "detail"'))).toBe(true);
    const error = await refused('/txt2img', { prompt: 'x', loras: [['add_detail', 0.5], ['detail', 0.5]] }, { strictNames: true });
    expect(error).toBe('SDCN POST /txt2img: loras[1][0]: LoRA "detail" ("<lora:detail>") is not known to A1111 (did you mean "add_detail"?); valid: add_detail, lcm-lora-sdxl');
  });

  it('refuses a LoRA weight outside [-2, 2]', async () => {
    const error = await refused('/txt2img', { prompt: 'x', loras: [['add_detail', 0.5], ['lcm-lora-sdxl', 3]] });
    expect(error).toBe('invalid payload for SDCN POST /txt2img: loras[1][1]: 3 is not allowed (must be <= 2)');
    expect(await refused('/txt2img', { loras: [['add_detail', -2.5]] })).toBe('invalid payload for SDCN POST /txt2img: loras[0][1]: -2.5 is not allowed (must be >= -2)');
  });

  it('refuses malformed loras entries', async () => {
    expect(await refused('/txt2img', { loras: [['add_detail']] })).toBe(
      'invalid payload for SDCN POST /txt2img: loras[0]: ["add_detail"] is not allowed (must have at least 2 items)',
    );
    expect(await refused('/txt2img', { loras: [['add_detail', 0.5, 1]] })).toBe(
      'invalid payload for SDCN POST /txt2img: loras[0]: ["add_detail",0.5,1] is not allowed (must have at most 2 items)',
    );
    expect(await refused('/txt2img', { loras: [[0.5, 'add_detail']] })).toBe(
      'invalid payload for SDCN POST /txt2img: loras[0][0]: 0.5 is not allowed (must be a string); loras[0][1]: "add_detail" is not allowed (must be a number)',
    );
    expect(await refused('/txt2img', { loras: { add_detail: 0.5 } })).toBe('invalid payload for SDCN POST /txt2img: loras: {"add_detail":0.5} is not allowed (must be an array)');
  });

  it('refuses LoRA names that would break the <lora:…> tag', async () => {
    const error = await refused('/txt2img', { prompt: 'x', loras: [['add_detail:2', 0.5], ['ok', 1], ['a>b<c', 1]] });
    expect(error).toBe(
      'invalid payload for SDCN POST /txt2img: loras[0][0]: "add_detail:2" is not allowed (a LoRA name cannot contain ":", "<" or ">": it would break the <lora:name:weight> tag); ' +
        'loras[2][0]: "a>b<c" is not allowed (a LoRA name cannot contain ":", "<" or ">": it would break the <lora:name:weight> tag)',
    );
  });

  it('refuses an unknown field with a suggestion', async () => {
    expect(await refused('/txt2img', { prompt: 'x', lora: [['add_detail', 0.5]] })).toBe('invalid payload for SDCN POST /txt2img: lora: unknown field (did you mean "loras"?)');
    expect(await refused('/txt2img', { upscale: { denoising_strength: 0.5, scael: 2, upscaler: 'Latent' } })).toBe(
      'invalid payload for SDCN POST /txt2img: upscale.scale: is required; upscale.scael: unknown field (did you mean "scale"?)',
    );
    // A1111's own field names are not SDCN's.
    expect(await refused('/txt2img', { prompt: 'x', enable_hr: true })).toBe('invalid payload for SDCN POST /txt2img: enable_hr: unknown field');
  });

  it("refuses upscale values outside SDCN's ranges instead of clamping them", async () => {
    const error = await refused('/txt2img', { prompt: 'x', upscale: { denoising_strength: 1.5, scale: 1, upscaler: 'Latent' } });
    expect(error).toBe('invalid payload for SDCN POST /txt2img: upscale.denoising_strength: 1.5 is not allowed (must be <= 1); upscale.scale: 1 is not allowed (must be > 1)');
    expect(await refused('/txt2img', { upscale: { denoising_strength: 0, scale: 2.5, upscaler: 'Latent' } })).toBe(
      'invalid payload for SDCN POST /txt2img: upscale.scale: 2.5 is not allowed (must be <= 2)',
    );
    expect(await refused('/txt2img', { upscale: {} })).toBe(
      'invalid payload for SDCN POST /txt2img: upscale.denoising_strength: is required; upscale.scale: is required; upscale.upscaler: is required',
    );
  });

  it('refuses an unknown model, upscaler and sampler, each under its SDCN field', async () => {
    const error = await refused('/txt2img', {
      prompt: 'x',
      model: 'v1-5-pruned-emaonly.ckpt',
      sampler_name: 'DDIMM',
      upscale: { denoising_strength: 0.5, scale: 1.5, upscaler: 'R-ESRGAN 4x' },
    });
    expect(error).toMatch(
      /^SDCN POST \/txt2img: model: "v1-5-pruned-emaonly\.ckpt" is not an A1111 checkpoint \(title, file name or model name\) \(did you mean "v1-5-pruned-emaonly"\?\); valid: .*; sampler_name: "DDIMM" is not an A1111 sampler \(did you mean "DDIM"\?\); valid: .*; upscale\.upscaler: "R-ESRGAN 4x" is not an A1111 upscaler or latent upscale mode \(did you mean "R-ESRGAN 4x\+"\?\); valid: Latent, /,
    );
  });

  it('refuses null and wrong types: SDCN fields take the types of its doc', async () => {
    expect(await refused('/txt2img', { prompt: null, steps: '20', width: 500 })).toBe(
      'invalid payload for SDCN POST /txt2img: prompt: null is not allowed (must be a string); steps: "20" is not allowed (must be an integer); width: 500 is not allowed (must be a multiple of 8)',
    );
    expect(await refused('/txt2img', ['prompt'])).toBe('payload for SDCN POST /txt2img must be a JSON object (got an array of 1 item)');
  });

  it("the translated payload still gets A1111's checks (here MAX_STEPS), prefixed with the translation", async () => {
    expect(await refused('/txt2img', { prompt: 'x', steps: 400 })).toBe(
      'SDCN /txt2img as A1111 POST /sdapi/v1/txt2img: invalid payload for POST /sdapi/v1/txt2img: steps: 400 is over MAX_STEPS=150',
    );
  });

  it('refuses GET: SDCN endpoints take POST', async () => {
    expect(await refused('/txt2img', { prompt: 'x' }, { method: 'GET' })).toBe('api.method "GET" is not allowed for SDCN /txt2img: it takes "POST"');
  });

  it('with STRICT_NAMES=false an unknown LoRA is logged under its SDCN field and the job runs', async () => {
    const r = await run('/txt2img', { prompt: 'x', loras: [['detail', 0.7]], steps: 1, width: 64, height: 64 }, { strictNames: false });
    expect(r.calls.filter((c) => c.path === '/sdapi/v1/txt2img').map((c) => c.body)).toEqual([{ prompt: 'x,<lora:detail:0.7>', steps: 1, width: 64, height: 64 }]);
    expect(Object.keys(r.out)).toEqual(['images']);
    // Once, under the SDCN field: the A1111 check of the translated prompt skips the names the dialect checked.
    expect(r.log.lines).toEqual([
      `WARN sdcn-${jobNo} SDCN POST /txt2img: loras[0][0]: LoRA "detail" ("<lora:detail>") is not known to A1111 (did you mean "add_detail"?); valid: add_detail, lcm-lora-sdxl`,
    ]);
  });
});

describe('SDCN /img2img', () => {
  it('init_image becomes init_images: [init_image]; denoising_strength, loras and model as for txt2img', async () => {
    const r = await run('/img2img', {
      init_image: PNG_64,
      denoising_strength: 0.55,
      prompt: 'A dog',
      loras: [['add_detail', 0.5]],
      seed: 7,
      sampler_name: 'Euler a',
      steps: 2,
      cfg_scale: 7,
      width: 64,
      height: 64,
      negative_prompt: 'blurry',
      model: 'sd_xl_base_1.0',
    });
    expect(r.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual(['POST /sdapi/v1/img2img 200']);
    expect(r.calls[0]!.body).toEqual({
      init_images: [PNG_64],
      denoising_strength: 0.55,
      prompt: 'A dog,<lora:add_detail:0.5>',
      seed: 7,
      sampler_name: 'Euler a',
      steps: 2,
      cfg_scale: 7,
      width: 64,
      height: 64,
      negative_prompt: 'blurry',
      override_settings: { sd_model_checkpoint: 'sd_xl_base_1.0' },
    });
    expect(Object.keys(r.out)).toEqual(['images']);
    expect(pngSize((r.out.images as string[])[0]!)).toEqual([64, 64]);
  });

  it('the minimal img2img request is init_images only', async () => {
    const r = await run('/img2img', { init_image: PNG_64 });
    expect(r.calls.map((c) => c.body)).toEqual([{ init_images: [PNG_64] }]);
  });

  it('refuses a missing init_image, and upscale (txt2img only)', async () => {
    expect(await refused('/img2img', { prompt: 'x', upscale: { denoising_strength: 0.5, scale: 2, upscaler: 'Latent' } })).toBe(
      'invalid payload for SDCN POST /img2img: init_image: is required; upscale: unknown field',
    );
    expect(await refused('/img2img', { init_image: PNG_64, denoising_strength: -0.1 })).toBe(
      'invalid payload for SDCN POST /img2img: denoising_strength: -0.1 is not allowed (must be >= 0)',
    );
  });

  it("a bad image is refused by the A1111 image check, which names A1111's field after the translation", async () => {
    const error = await refused('/img2img', { init_image: 'not an image' });
    expect(error).toMatch(/^SDCN \/img2img as A1111 POST \/sdapi\/v1\/img2img: invalid payload for POST \/sdapi\/v1\/img2img: init_images\[0\]: is not valid base64/);
  });
});

describe('SDCN /interrogate', () => {
  for (const model of ['clip', 'deepdanbooru'] as const) {
    it(`${model}: sends {image, model} and answers exactly {caption} (A1111's caption)`, async () => {
      const r = await run('/interrogate', { image: PNG_64, model });
      expect(r.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual(['POST /sdapi/v1/interrogate 200']);
      expect(r.calls[0]!.body).toEqual({ image: PNG_64, model });
      // The same request straight to A1111 gives the caption the job returned.
      const direct = (await (
        await fetch(`${backends.sim.url}/sdapi/v1/interrogate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: PNG_64, model }) })
      ).json()) as { caption: string };
      expect(direct.caption).not.toBe('');
      expect(r.out).toEqual({ caption: direct.caption });
    });
  }

  it('model is optional (A1111 defaults to clip); nothing is added', async () => {
    const r = await run('/interrogate', { image: PNG_64 });
    expect(r.calls.map((c) => c.body)).toEqual([{ image: PNG_64 }]);
    expect(Object.keys(r.out)).toEqual(['caption']);
    expect(typeof r.out.caption).toBe('string');
  });

  it('refuses another model and unknown fields', async () => {
    expect(await refused('/interrogate', { image: PNG_64, model: 'blip' })).toBe(
      'invalid payload for SDCN POST /interrogate: model: "blip" is not allowed (must be one of "clip", "deepdanbooru")',
    );
    expect(await refused('/interrogate', { images: [PNG_64] })).toBe('invalid payload for SDCN POST /interrogate: image: is required; images: unknown field (did you mean "image"?)');
  });
});

describe('README "SDCN task API"', () => {
  it('its example job gives the A1111 payload it states, and an {images} output', async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### SDCN task API'), readme.indexOf('### OpenAI-style images API'));
    const blocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
    expect(blocks).toHaveLength(2);
    const job = blocks[0] as { input: { api: { endpoint: string }; payload: unknown } };
    const stated = JSON.parse(/A1111 receives `([^`]+)`/.exec(section)![1]!.replace(/\n/g, ' ')) as unknown;
    const r = await run(job.input.api.endpoint, job.input.payload);
    expect(r.calls.map((c) => c.body)).toEqual([stated]);
    expect(Object.keys(r.out)).toEqual(['images']);
    // The error example is what the handler answers for that refusal.
    expect(blocks[1]!.status).toBe('FAILED');
    const error = blocks[1]!.error as string;
    expect(await refused('/txt2img', { loras: [['add_detail', 0.5], ['lcm-lora-sdxl', 3]] })).toBe(error);
  });
});

describe('SDCN with S3 outputs', () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3Server(['sdcn-bucket'], [S3_KEY]);
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('{images} holds presigned URLs of the uploaded PNGs; nothing else is added', async () => {
    const s3Config = { accessId: S3_KEY[0], accessSecret: S3_KEY[1], bucketName: 'sdcn-bucket', endpointUrl: s3.url };
    const r = await run('/txt2img', { prompt: 'to s3', steps: 1, width: 64, height: 64 }, { s3Config });
    expect(r.calls).toHaveLength(1);
    expect(Object.keys(r.out)).toEqual(['images']);
    const [url] = r.out.images as string[];
    expect(url!.startsWith(`${s3.url}/sdcn-bucket/sdcn-${jobNo}/0.png?`)).toBe(true);
    const got = await fetch(url!);
    expect(got.status).toBe(200);
    expect(pngSize(Buffer.from(await got.arrayBuffer()).toString('base64'))).toEqual([64, 64]);
  });
});
