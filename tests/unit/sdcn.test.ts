/**
 * The SDCN dialect's pure parts (handler/jobs/dialects/sdcn.ts): the LoRA tags, the field mapping, the schemas against
 * SDCN's own doc (seed 001), the refusals made before any name list is read, and the output shapes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Lists } from '../../handler/a1111/lists.js';
import { loadConfig } from '../../handler/config.js';
import type { DialectContext } from '../../handler/jobs/dialects/dialects.js';
import { JobInputError } from '../../handler/errors/index.js';
import { DIALECTS, parseEnvelope } from '../../handler/jobs/handler.js';
import { appendLoras, loraTag, sdcnDialect, sdcnToA1111, translateSdcn, type SdcnGenerationPayload } from '../../handler/jobs/dialects/sdcn.js';
import { compileDialectSchema } from '../../handler/jobs/dialects/schema.js';
import { silentLog } from '../../handler/log.js';
import txt2imgSchema from '../../schemas/sdcn-txt2img.json' with { type: 'json' };
import img2imgSchema from '../../schemas/sdcn-img2img.json' with { type: 'json' };
import interrogateSchema from '../../schemas/sdcn-interrogate.json' with { type: 'json' };

const SEEDS_DIR = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared', 'seeds');

/**
 * A context whose name lists sit on a port nobody listens on (port 9 on loopback): a translation that reached
 * the name check would fail with an A1111Error instead of the JobInputError these tests expect.
 */
function offlineCtx(): DialectContext {
  const client = new A1111Client({ ...loadConfig([], {}).a1111, url: 'http://127.0.0.1:9', requestTimeoutMs: 1000 }, silentLog);
  return { lists: new A1111Lists(client, silentLog), strictNames: true, limits: loadConfig([], {}).limits, signal: new AbortController().signal, log: silentLog, jobId: 'unit' };
}

async function refusal(endpoint: string, payload: unknown): Promise<string> {
  try {
    await translateSdcn(endpoint, payload, offlineCtx());
  } catch (e) {
    expect(e).toBeInstanceOf(JobInputError);
    const m = (e as Error).message;
    expect(m).not.toMatch(/[\n\r]/);
    return m;
  }
  throw new Error(`expected a JobInputError for ${JSON.stringify(payload)}`);
}

describe('LoRA tags', () => {
  it('loraTag prints the name as given and the weight as a JSON number', () => {
    expect(loraTag(['add_detail', 0.5])).toBe('<lora:add_detail:0.5>');
    expect(loraTag(['x', 1])).toBe('<lora:x:1>');
    expect(loraTag(['x', -0.25])).toBe('<lora:x:-0.25>');
    expect(loraTag(['x', 2])).toBe('<lora:x:2>');
    expect(loraTag(['name with spaces', 0])).toBe('<lora:name with spaces:0>');
  });

  it('appendLoras appends each tag after "," as SDCN did', () => {
    expect(appendLoras('A dog', [['a', 0.5], ['b', 0.6]])).toBe('A dog,<lora:a:0.5>,<lora:b:0.6>');
    expect(appendLoras('A dog, best quality', [['a', 1]])).toBe('A dog, best quality,<lora:a:1>');
    // The prompt is not trimmed or otherwise changed.
    expect(appendLoras('A dog ', [['a', 1]])).toBe('A dog ,<lora:a:1>');
  });

  it('appendLoras without a prompt: no leading ","', () => {
    expect(appendLoras(undefined, [['a', 0.5], ['b', 0.6]])).toBe('<lora:a:0.5>,<lora:b:0.6>');
    expect(appendLoras('', [['a', 0.5]])).toBe('<lora:a:0.5>');
  });

  it('appendLoras without LoRAs returns the prompt unchanged', () => {
    expect(appendLoras('A dog', [])).toBe('A dog');
    expect(appendLoras(undefined, [])).toBeUndefined();
    expect(appendLoras('', [])).toBe('');
  });
});

describe('sdcnToA1111', () => {
  it("maps SDCN's txt2img example field by field", () => {
    const p: SdcnGenerationPayload = {
      prompt: 'A dog',
      loras: [
        ['l1', 0.5],
        ['l2', 0.6],
      ],
      seed: -1,
      sampler_name: 'DDIM',
      steps: 20,
      cfg_scale: 7,
      width: 512,
      height: 512,
      negative_prompt: '',
      model: 'm',
      upscale: { denoising_strength: 0.5, scale: 2, upscaler: 'Latent' },
    };
    const before = structuredClone(p);
    const out = sdcnToA1111('/txt2img', p);
    expect(out).toEqual({
      prompt: 'A dog,<lora:l1:0.5>,<lora:l2:0.6>',
      seed: -1,
      sampler_name: 'DDIM',
      steps: 20,
      cfg_scale: 7,
      width: 512,
      height: 512,
      negative_prompt: '',
      override_settings: { sd_model_checkpoint: 'm' },
      enable_hr: true,
      hr_scale: 2,
      hr_upscaler: 'Latent',
      denoising_strength: 0.5,
    });
    expect(Object.keys(out)).not.toContain('override_settings_restore_afterwards');
    expect(Object.keys(out)).not.toContain('upscaler');
    expect(p).toEqual(before);
  });

  it('img2img: init_images first, denoising_strength kept', () => {
    const out = sdcnToA1111('/img2img', { init_image: 'AAAA', denoising_strength: 0.55, prompt: 'x', loras: [['l', 1]] });
    expect(out).toEqual({ init_images: ['AAAA'], denoising_strength: 0.55, prompt: 'x,<lora:l:1>' });
    expect(Object.keys(out)[0]).toBe('init_images');
  });

  it('adds nothing to an empty payload', () => {
    expect(sdcnToA1111('/txt2img', {})).toEqual({});
  });
});

describe('schemas follow SDCN doc/api.md (seed 001)', () => {
  const props = (s: { properties: object }) => Object.keys(s.properties).sort();

  it('txt2img, img2img and interrogate have exactly the fields of the doc', () => {
    expect(props(txt2imgSchema)).toEqual(['cfg_scale', 'height', 'loras', 'model', 'negative_prompt', 'prompt', 'sampler_name', 'seed', 'steps', 'upscale', 'width']);
    expect(Object.keys(txt2imgSchema.properties.upscale.properties).sort()).toEqual(['denoising_strength', 'scale', 'upscaler']);
    expect(props(img2imgSchema)).toEqual(['cfg_scale', 'denoising_strength', 'height', 'init_image', 'loras', 'model', 'negative_prompt', 'prompt', 'sampler_name', 'seed', 'steps', 'width']);
    expect(props(interrogateSchema)).toEqual(['image', 'model']);
  });

  const seed = existsSync(SEEDS_DIR) ? readdirSync(SEEDS_DIR).find((f) => f.startsWith('001_')) : undefined;
  it.skipIf(!seed)("the doc's parameter tables list the same fields", () => {
    const text = readFileSync(join(SEEDS_DIR, seed!), 'utf8');
    const section = (title: string) => text.split(/^### /m).find((s) => s.startsWith(title))!;
    const params = (title: string) => [...section(title).matchAll(/^\| ([a-z_.]+) \| /gm)].map((m) => m[1]!).filter((p) => p !== 'Parameter');
    const top = (list: string[]) => [...new Set(list.map((p) => p.split('.')[0]!))].sort();
    expect(top(params('txt2img'))).toEqual(props(txt2imgSchema));
    expect(params('txt2img').filter((p) => p.startsWith('upscale.')).map((p) => p.slice(8)).sort()).toEqual(['denoising_strength', 'scale', 'upscaler']);
    expect(top(params('img2img'))).toEqual(props(img2imgSchema));
    expect(top(params('interrogate'))).toEqual(props(interrogateSchema));
  });

  it("the doc's examples validate (names are checked later, against A1111)", () => {
    const loras = [
      ['XXXXXXXX', 0.5],
      ['XXXXXXXX', 0.6],
    ];
    const common = { prompt: 'A dog', loras, seed: -1, sampler_name: 'DDIM', steps: 20, cfg_scale: 7, width: 512, height: 512, negative_prompt: '', model: 'XXXXXXXX' };
    expect(() => compileDialectSchema(txt2imgSchema, 'SDCN POST /txt2img')({ ...common, upscale: { denoising_strength: 0.5, scale: 2, upscaler: 'Latent' } })).not.toThrow();
    expect(() => compileDialectSchema(img2imgSchema, 'SDCN POST /img2img')({ init_image: 'string', denoising_strength: 0.55, ...common })).not.toThrow();
    expect(() => compileDialectSchema(interrogateSchema, 'SDCN POST /interrogate')({ image: 'string', model: 'clip' })).not.toThrow();
  });
});

describe('translateSdcn refusals before any name list is read', () => {
  it("SDCN's documented ranges, with SDCN's field paths", async () => {
    expect(await refusal('/txt2img', { loras: [['a', 0.5], ['b', 3]] })).toBe('invalid payload for SDCN POST /txt2img: loras[1][1]: 3 is not allowed (must be <= 2)');
    expect(await refusal('/txt2img', { upscale: { denoising_strength: -0.01, scale: 1.0000001, upscaler: 'Latent' } })).toBe(
      'invalid payload for SDCN POST /txt2img: upscale.denoising_strength: -0.01 is not allowed (must be >= 0)',
    );
    expect(await refusal('/txt2img', { upscale: { denoising_strength: 0.5, scale: 2.0001, upscaler: '' } })).toBe(
      'invalid payload for SDCN POST /txt2img: upscale.scale: 2.0001 is not allowed (must be <= 2); upscale.upscaler: "" is not allowed (must not be empty)',
    );
    expect(await refusal('/img2img', { init_image: 'x', denoising_strength: 1.2 })).toBe('invalid payload for SDCN POST /img2img: denoising_strength: 1.2 is not allowed (must be <= 1)');
    expect(await refusal('/interrogate', { image: 'x', model: 'CLIP' })).toBe(
      'invalid payload for SDCN POST /interrogate: model: "CLIP" is not allowed (must be one of "clip", "deepdanbooru")',
    );
  });

  it('unknown fields, with a suggestion when one is close', async () => {
    expect(await refusal('/txt2img', { negativ_prompt: 'x' })).toBe('invalid payload for SDCN POST /txt2img: negativ_prompt: unknown field (did you mean "negative_prompt"?)');
    expect(await refusal('/img2img', { init_images: ['x'] })).toBe('invalid payload for SDCN POST /img2img: init_image: is required; init_images: unknown field (did you mean "init_image"?)');
  });

  it('LoRA names with ":", "<" or ">"', async () => {
    expect(await refusal('/img2img', { init_image: 'x', loras: [['a<b', 1]] })).toBe(
      'invalid payload for SDCN POST /img2img: loras[0][0]: "a<b" is not allowed (a LoRA name cannot contain ":", "<" or ">": it would break the <lora:name:weight> tag)',
    );
  });

  it('an endpoint SDCN does not have', async () => {
    expect(await refusal('/upscale', {})).toBe('SDCN has no endpoint "/upscale" (it has POST /txt2img, /img2img, /interrogate)');
  });

  it('interrogate needs no name list: the validated payload is sent as it is', async () => {
    const payload = { image: 'x', model: 'deepdanbooru' };
    const t = await translateSdcn('/interrogate', payload, offlineCtx());
    expect(t.route.path).toBe('/sdapi/v1/interrogate');
    expect(t.payload).toEqual({ image: 'x', model: 'deepdanbooru' });
    expect(t.output).toBeUndefined();
  });
});

describe('output shapes', () => {
  it('interrogate → exactly {caption}', async () => {
    const t = await translateSdcn('/interrogate', { image: 'x' }, offlineCtx());
    expect(t.reshape({ caption: 'a dog', extra: 1 }, { uploaded: false, startedAtMs: 0 })).toEqual({ caption: 'a dog' });
  });

  it('txt2img/img2img → exactly {images}: no info, parameters or msg (also for S3 URLs)', async () => {
    const ctx = offlineCtx();
    // No names to check: the translation needs no list.
    for (const [endpoint, payload] of [
      ['/txt2img', { prompt: 'x' }],
      ['/img2img', { init_image: 'x' }],
    ] as const) {
      const t = await translateSdcn(endpoint, payload, ctx);
      expect(t.route.path).toBe(`/sdapi/v1${endpoint}`);
      const answer = { images: ['AAAA', 'BBBB'], parameters: { prompt: 'x' }, info: '{}' };
      expect(t.reshape(answer, { uploaded: false, startedAtMs: 0 })).toEqual({ images: ['AAAA', 'BBBB'] });
      expect(t.reshape({ ...answer, images: ['https://b/0.png'] }, { uploaded: true, startedAtMs: 0 })).toEqual({ images: ['https://b/0.png'] });
    }
  });
});

describe('registration', () => {
  it('is the SDCN dialect of the handler, for /txt2img, /img2img and /interrogate', () => {
    expect(sdcnDialect.name).toBe('SDCN');
    expect(sdcnDialect.endpoints).toEqual(['/txt2img', '/img2img', '/interrogate']);
    expect(DIALECTS).toContain(sdcnDialect);
  });

  it('parseEnvelope: "/txt2img" is SDCN, "/sdapi/v1/txt2img" is A1111, "txt2img" is neither', () => {
    const env = (endpoint: string) => parseEnvelope({ api: { method: 'POST', endpoint }, payload: {} });
    expect(env('/txt2img').dialect?.dialect).toBe(sdcnDialect);
    expect(env('/interrogate').dialect?.endpoint).toBe('/interrogate');
    expect(env('/sdapi/v1/txt2img').route?.path).toBe('/sdapi/v1/txt2img');
    expect(() => env('txt2img')).toThrow(/^api\.endpoint "txt2img" is not allowed .*; or a request dialect: SDCN POST \/txt2img, \/img2img, \/interrogate;/);
    expect(env('/sdapi/v1/img2img').dialect).toBeUndefined();
  });
});
