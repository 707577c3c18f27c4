/**
 * Name checks (handler/jobs/input/names.ts) with the cached lists (handler/a1111/lists.ts) against the bundled A1111
 * simulator on loopback: refusals with the valid names and a suggestion, combined sampler names forwarded unchanged,
 * styles and LoRA tags as warnings unless strict, refresh on a miss (and only once), caching.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Error } from '../../handler/errors/index.js';
import { A1111Lists, type A1111ListsOptions } from '../../handler/a1111/lists.js';
import { JobInputError } from '../../handler/errors/index.js';
import { checkNames } from '../../handler/jobs/input/names.js';
import { resolveRoute, type RouteSpec } from '../../handler/jobs/input/routes.js';
import { silentLog } from '../../handler/log.js';
import { startSimulator, type SimOptions, type Simulator } from '../../sim/server.js';
import { SEED_004, a1111Config, closedPort } from '../helpers/fixtures.js';
import { rejectionMessage } from '../helpers/one-line-error.js';

const TXT2IMG = resolveRoute('POST', '/sdapi/v1/txt2img');
const IMG2IMG = resolveRoute('POST', '/sdapi/v1/img2img');
const OPTIONS = resolveRoute('POST', '/sdapi/v1/options');
const EXTRAS = resolveRoute('POST', '/sdapi/v1/extra-single-image');
const EXTRAS_BATCH = resolveRoute('POST', '/sdapi/v1/extra-batch-images');

const SIM_LISTS: SimOptions = {
  models: ['sd_xl_base_1.0.safetensors', 'sd_xl_refiner_1.0.safetensors', 'v1-5-pruned-emaonly.safetensors'],
  loras: ['add_detail', { name: 'lcm-lora-sdxl', alias: 'lcm' }],
  vaes: ['sdxl_vae.safetensors'],
  styles: ['Cinematic', { name: 'Watercolor', prompt: '{prompt}, watercolor', negative_prompt: 'photo' }],
};

function lists(sim: Simulator, opts: A1111ListsOptions = {}): A1111Lists {
  return new A1111Lists(new A1111Client(a1111Config({ url: sim.url, requestTimeoutMs: 10_000 }), silentLog), silentLog, opts);
}

/** Requests of the simulator's log with this method and path after `/sdapi/v1/`. */
function count(sim: Simulator, method: string, route: string): number {
  return sim.requests.filter((r) => r.method === method && r.path === `/sdapi/v1/${route}`).length;
}

function refusal(route: RouteSpec, payload: unknown, l: A1111Lists): Promise<string> {
  return rejectionMessage(checkNames(route, payload, l, { strict: true }), JobInputError, JSON.stringify(payload));
}

/** Checks that the names pass without a warning and that the payload is left as it was. */
async function accepted(route: RouteSpec, payload: unknown, l: A1111Lists): Promise<void> {
  const before = JSON.stringify(payload);
  expect(await checkNames(route, payload, l, { strict: true })).toEqual([]);
  expect(JSON.stringify(payload)).toBe(before);
}

describe('checkNames against the simulator', () => {
  let sim: Simulator;
  let shared: A1111Lists;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, stepMs: 0, ...SIM_LISTS });
    shared = lists(sim);
  });
  afterAll(async () => {
    await sim.close();
  });

  it("passes seed 004's payload unchanged (nothing rewritten)", async () => {
    await accepted(TXT2IMG, structuredClone(SEED_004.input.payload), shared);
  });

  it('refuses an unknown sampler with the valid names and a sampler + scheduler suggestion', async () => {
    const m = await refusal(TXT2IMG, { prompt: 'p', sampler_name: 'DPM++ 2M Karas' }, shared);
    expect(m).toMatch(/^sampler_name: "DPM\+\+ 2M Karas" is not an A1111 sampler \(did you mean "DPM\+\+ 2M" with scheduler "karras"\?\); valid: DPM\+\+ 2M, DPM\+\+ SDE, DPM\+\+ 2M SDE, /);
    expect(m).toMatch(/, UniPC, LCM$/);
  });

  it.each([
    [TXT2IMG, { sampler_name: 'k_euler_a' }, /^sampler_name: "k_euler_a" is not an A1111 sampler \(did you mean "Euler a"\?\); valid: DPM\+\+ 2M,/],
    [IMG2IMG, { init_images: [], sampler_index: 'Eular' }, /^sampler_index: "Eular" is not an A1111 sampler \(did you mean "Euler"\?\)/],
    [TXT2IMG, { scheduler: 'karas' }, /^scheduler: "karas" is not an A1111 scheduler \(did you mean "karras"\?\); valid: automatic, uniform, karras, /],
    [TXT2IMG, { scheduler: 'SGMUniform' }, /^scheduler: "SGMUniform" is not an A1111 scheduler \(did you mean "sgm_uniform"\?\)/],
    [
      TXT2IMG,
      { override_settings: { sd_model_checkpoint: 'sd_xl_base_1' } },
      /^override_settings\.sd_model_checkpoint: "sd_xl_base_1" is not an A1111 checkpoint \(title, file name or model name\) \(did you mean "sd_xl_base_1\.0"\?\); valid: sd_xl_base_1\.0\.safetensors \[[0-9a-f]{10}\], sd_xl_refiner_1\.0\.safetensors \[[0-9a-f]{10}\], v1-5-pruned-emaonly\.safetensors \[[0-9a-f]{10}\]$/,
    ],
    [
      TXT2IMG,
      { override_settings: { sd_vae: 'sdxl_vae' } },
      /^override_settings\.sd_vae: "sdxl_vae" is not an A1111 VAE \(did you mean "sdxl_vae\.safetensors"\?\); valid: Automatic, None, sdxl_vae\.safetensors$/,
    ],
    [TXT2IMG, { refiner_checkpoint: 'sd_xl_refiner_2.0' }, /^refiner_checkpoint: "sd_xl_refiner_2\.0" is not an A1111 checkpoint .*\(did you mean "sd_xl_refiner_1\.0"\?\)/],
    [TXT2IMG, { refiner_checkpoint: 'sd_xl' }, /^refiner_checkpoint: "sd_xl" matches 2 A1111 checkpoints \(A1111 would take "sd_xl_base_1\.0\.safetensors \[[0-9a-f]{10}\]"\); name one: sd_xl_base/],
    [TXT2IMG, { enable_hr: true, hr_sampler_name: 'Euler A' }, /^hr_sampler_name: "Euler A" is not an A1111 sampler \(did you mean "Euler a"\?\)/],
    [TXT2IMG, { enable_hr: true, hr_sampler_name: 'Use same sampler' }, /^hr_sampler_name: "Use same sampler" is a web UI choice the API does not take; leave hr_sampler_name out/],
    [TXT2IMG, { enable_hr: true, hr_scheduler: 'exponentail' }, /^hr_scheduler: "exponentail" is not an A1111 scheduler \(did you mean "exponential"\?\)/],
    [TXT2IMG, { enable_hr: true, hr_checkpoint_name: 'sd_xl_refiner_1.1' }, /^hr_checkpoint_name: "sd_xl_refiner_1\.1" is not an A1111 checkpoint .*\(did you mean "sd_xl_refiner_1\.0"\?\)/],
    [
      TXT2IMG,
      { enable_hr: true, hr_upscaler: 'Latent (bicubic antialias)' },
      /^hr_upscaler: "Latent \(bicubic antialias\)" is not an A1111 upscaler or latent upscale mode \(did you mean "Latent \(bicubic antialiased\)"\?\); valid: Latent, Latent \(antialiased\),/,
    ],
    [TXT2IMG, { enable_hr: true, hr_upscaler: 'R-ESRGAN 4x' }, /^hr_upscaler: "R-ESRGAN 4x" is not .*\(did you mean "R-ESRGAN 4x\+"\?\)/],
    [TXT2IMG, { prompt: 'a cat <lora:add_detial:0.5>' }, /^prompt: LoRA "add_detial" \("<lora:add_detial:0\.5>"\) is not known to A1111 \(did you mean "add_detail"\?\); valid: add_detail, lcm-lora-sdxl$/],
    [TXT2IMG, { negative_prompt: 'blurry <lyco:lcm_lora:1>' }, /^negative_prompt: LoRA "lcm_lora" .* \(did you mean "lcm-lora-sdxl"\?\)/],
    [TXT2IMG, { enable_hr: true, hr_prompt: '<lora:Add_Detail:1>' }, /^hr_prompt: LoRA "Add_Detail" .*\(did you mean "add_detail"\?\)/],
    [TXT2IMG, { prompt: '<LORA:add_detail:1>' }, /^prompt: "<LORA:add_detail:1>" is not an A1111 extra network \(types are case-sensitive: did you mean <lora:…>\?\)$/],
    [TXT2IMG, { styles: ['Cinematic', 'watercolour'] }, /^styles\[1\]: "watercolour" is not an A1111 prompt style \(did you mean "Watercolor"\?\); valid: Cinematic, Watercolor$/],
    [TXT2IMG, { script_name: 'x/y/z plots' }, /^script_name: "x\/y\/z plots" is not a selectable A1111 txt2img script \(did you mean "x\/y\/z plot"\?\); valid: prompt matrix, /],
    [TXT2IMG, { script_name: 'Loopback' }, /^script_name: "Loopback" is not a selectable A1111 txt2img script; valid: /],
    [TXT2IMG, { script_name: 'Hypertile' }, /^script_name: "Hypertile" is an always-on script, not a selectable one \(A1111 answers 422\): send it in alwayson_scripts$/],
    [OPTIONS, { sd_model_checkpoint: 'v1-5-pruned-emaonly.ckpt' }, /^sd_model_checkpoint: "v1-5-pruned-emaonly\.ckpt" is not an A1111 checkpoint .*\(did you mean "v1-5-pruned-emaonly"\?\)/],
    [OPTIONS, { sd_vae: 'automatic' }, /^sd_vae: "automatic" is not an A1111 VAE \(did you mean "Automatic"\?\)/],
    [EXTRAS, { image: '', upscaler_1: 'Lanczo' }, /^upscaler_1: "Lanczo" is not an A1111 upscaler \(did you mean "Lanczos"\?\); valid: None, Lanczos, Nearest,/],
    [EXTRAS_BATCH, { imageList: [], upscaler_1: 'None', upscaler_2: 'ESRGAN 4x' }, /^upscaler_2: "ESRGAN 4x" is not an A1111 upscaler \(did you mean "ESRGAN_4x"\?\)/],
  ] as const)('refuses %#: each field names the value, a suggestion and the valid names', async (route, payload, expected) => {
    expect(await refusal(route, payload, shared)).toMatch(expected);
  });

  it('lists every refused name in one line', async () => {
    const m = await refusal(TXT2IMG, { sampler_name: 'Eulr', scheduler: 'karas', styles: ['Cinema'], prompt: '<lora:nope:1>' }, shared);
    expect(m.split('; valid: ').length).toBe(5);
    expect(m).toMatch(/^sampler_name: .*; scheduler: .*; prompt: LoRA "nope" .*; styles\[0\]: "Cinema" .*\(did you mean "Cinematic"\?\)/);
  });

  it('accepts every spelling A1111 accepts', async () => {
    const ck = (v: string) => ({ override_settings: { sd_model_checkpoint: v } });
    const models = (await shared.get('sd-models')).entries;
    const base = models[0]!;
    for (const payload of [
      ck(base.title),
      ck('sd_xl_base_1.0.safetensors'),
      ck('sd_xl_base_1.0'),
      ck(base.hash!),
      ck(base.sha256!),
      { override_settings: { sd_vae: 'None' } },
      { override_settings: { sd_vae: 'Automatic' } },
      { scheduler: 'Karras' },
      { scheduler: 'sgm_uniform' },
      { scheduler: 'SGM Uniform' },
      { refiner_checkpoint: 'None' },
      { refiner_checkpoint: 'refiner' }, // one title contains it: A1111's closest match is unambiguous
      { refiner_checkpoint: '' },
      { enable_hr: true, hr_checkpoint_name: 'Use same checkpoint', hr_upscaler: 'Latent (nearest-exact)', hr_sampler_name: 'Euler', hr_scheduler: 'Automatic' },
      { enable_hr: true, hr_upscaler: 'None' },
      { prompt: '<lora:add_detail:0.5> <lora:lcm:1> <lyco:lcm-lora-sdxl> <hypernet:whatever:1>' },
      { styles: ['Cinematic', 'Watercolor'] },
      { script_name: 'X/Y/Z Plot' },
      { sampler_name: 'Euler', sampler_index: 'not used when sampler_name is set' },
    ]) {
      await accepted(TXT2IMG, payload, shared);
    }
    await accepted(IMG2IMG, { init_images: [], script_name: 'loopback' }, shared);
    await accepted(OPTIONS, { sd_model_checkpoint: 'sd_xl_refiner_1.0', sd_vae: 'sdxl_vae.safetensors' }, shared);
    await accepted(EXTRAS, { image: '', upscaler_1: 'R-ESRGAN 4x+', upscaler_2: 'None' }, shared);
  });

  it('does not check fields A1111 ignores: hr_* without enable_hr, LoRA tags with disable_extra_networks', async () => {
    const payload = { enable_hr: false, hr_sampler_name: 'nope', hr_scheduler: 'nope', hr_checkpoint_name: 'nope', hr_upscaler: 'nope', hr_prompt: '<lora:nope:1>' };
    await accepted(TXT2IMG, payload, shared);
    await accepted(TXT2IMG, { prompt: '<lora:nope:1>', disable_extra_networks: true }, shared);
    await accepted(resolveRoute('POST', '/sdapi/v1/png-info'), { image: 'x' }, shared);
    await accepted(resolveRoute('GET', '/sdapi/v1/samplers'), undefined, shared);
  });

  it('forwards A1111 1.9+ combined sampler names unchanged when both parts are known', async () => {
    const input = { prompt: 'p', sampler_name: 'Euler Karras', steps: 2, width: 64, height: 64, send_images: false };
    await accepted(TXT2IMG, input, shared);

    // A1111 splits it itself and generates with what was meant (Euler has no default scheduler of its own).
    const res = await fetch(`${sim.url}/sdapi/v1/txt2img`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
    const info = JSON.parse(((await res.json()) as { info: string }).info) as { sampler_name: string; infotexts: string[] };
    expect(info.sampler_name).toBe('Euler');
    expect(info.infotexts[0]).toContain('Sampler: Euler, Schedule type: Karras');

    // sampler_index when it is the one A1111 uses; alias and name suffixes; the same scheduler given again.
    for (const payload of [
      { init_images: [], sampler_index: 'Euler SGMUniform' },
      { init_images: [], sampler_name: 'DPM++ SDE karras' },
      { init_images: [], sampler_name: 'DPM++ SDE Karras', scheduler: 'karras' },
    ]) {
      await accepted(IMG2IMG, payload, shared);
    }
    // A known scheduler suffix on an unknown sampler is still refused.
    expect(await refusal(TXT2IMG, { sampler_name: 'DPM++ 9M Karras' }, shared)).toMatch(/^sampler_name: "DPM\+\+ 9M Karras" is not an A1111 sampler/);
    // With another scheduler given, A1111 would silently drop one of the two: refused.
    expect(await refusal(TXT2IMG, { sampler_name: 'DPM++ 2M Karras', scheduler: 'exponential' }, shared)).toBe(
      'sampler_name: "DPM++ 2M Karras" names scheduler "Karras" but scheduler is "exponential" (A1111 would silently use "exponential"; send sampler_name "DPM++ 2M" and one scheduler)',
    );
    // A1111 does not split hires sampler names (create_sampler fails): refused with the split spelled out.
    expect(await refusal(TXT2IMG, { enable_hr: true, hr_sampler_name: 'DPM++ 2M Karras' }, shared)).toBe(
      'hr_sampler_name: "DPM++ 2M Karras" is not an A1111 sampler (A1111 splits combined names only for sampler_name; send hr_sampler_name "DPM++ 2M" with hr_scheduler "karras")',
    );
  });

  it('with strict false lets unknown styles and LoRA tags through as warnings, the payload unchanged', async () => {
    const payload = { prompt: 'a <lora:nope:1> <LORA:add_detail:1>', styles: ['Cinematic', 'Noir'] };
    const before = JSON.stringify(payload);
    const warnings = await checkNames(TXT2IMG, payload, shared, { strict: false });
    expect(JSON.stringify(payload)).toBe(before);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^prompt: "<LORA:add_detail:1>" is not an A1111 extra network \(types are case-sensitive/);
    expect(warnings[1]).toMatch(/^prompt: LoRA "nope" \("<lora:nope:1>"\) is not known to A1111; valid: add_detail, lcm-lora-sdxl$/);
    expect(warnings[2]).toMatch(/^styles\[1\]: "Noir" is not an A1111 prompt style; valid: Cinematic, Watercolor$/);
    // strict: refused.
    expect(await refusal(TXT2IMG, payload, shared)).toMatch(/^prompt: "<LORA:add_detail:1>" .*; prompt: LoRA "nope" .*; styles\[1\]: "Noir" /);
  });

  it('with strict false still refuses what A1111 fails on or substitutes, naming only those', async () => {
    const payload = { sampler_name: 'DPM++ 2M Karas', override_settings: { sd_vae: 'sdxl_vae' }, prompt: '<lora:nope:1>' };
    const err = await checkNames(TXT2IMG, payload, shared, { strict: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobInputError);
    const m = (err as Error).message;
    expect(m).toMatch(/^sampler_name: "DPM\+\+ 2M Karas" is not an A1111 sampler \(did you mean "DPM\+\+ 2M" with scheduler "karras"\?\).*; override_settings\.sd_vae: "sdxl_vae" is not an A1111 VAE/);
    expect(m).not.toContain('nope');
  });
});

describe('A1111Lists: cache and refresh', () => {
  const sims: Simulator[] = [];
  afterEach(async () => {
    while (sims.length) await sims.pop()!.close();
  });
  async function sim(opts: SimOptions = {}): Promise<Simulator> {
    const s = await startSimulator({ port: 0, stepMs: 0, ...SIM_LISTS, ...opts });
    sims.push(s);
    return s;
  }

  it('fetches each list once, on first use, and only the lists a payload needs', async () => {
    const s = await sim();
    const l = lists(s);
    const payload = SEED_004.input.payload;
    await Promise.all([1, 2, 3, 4, 5].map(() => accepted(TXT2IMG, payload, l)));
    await accepted(TXT2IMG, payload, l);
    for (const route of ['samplers', 'schedulers', 'sd-models', 'sd-vae']) expect(count(s, 'GET', route)).toBe(1);
    for (const route of ['loras', 'upscalers', 'latent-upscale-modes', 'prompt-styles', 'scripts']) expect(count(s, 'GET', route)).toBe(0);
    expect(s.requests.filter((r) => r.method === 'POST')).toEqual([]);
    await accepted(TXT2IMG, { prompt: '<lora:add_detail:1>' }, l);
    await accepted(TXT2IMG, { prompt: '<lora:lcm:1>' }, l);
    expect(count(s, 'GET', 'loras')).toBe(1);
  });

  it('finds a LoRA added after the first fetch, after POST refresh-loras, and does not refresh again within the interval', async () => {
    const s = await sim();
    let now = 0;
    const l = lists(s, { now: () => now });
    await accepted(TXT2IMG, { prompt: '<lora:add_detail:1>' }, l);
    expect(count(s, 'GET', 'loras')).toBe(1);

    s.addFiles({ loras: ['new_style_lora'] });
    // Like A1111, the simulator lists it only after a rescan.
    expect(((await (await fetch(`${s.url}/sdapi/v1/loras`)).json()) as { name: string }[]).map((x) => x.name)).not.toContain('new_style_lora');
    s.requests.length = 0;

    await accepted(TXT2IMG, { prompt: '<lora:new_style_lora:0.7>' }, l);
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /sdapi/v1/refresh-loras', 'GET /sdapi/v1/loras']);

    // Misses within the interval: refused without another refresh (no refresh storm).
    now += 10_000;
    expect(await refusal(TXT2IMG, { prompt: '<lora:nope:1>' }, l)).toMatch(/^prompt: LoRA "nope" .*valid: add_detail, lcm-lora-sdxl, new_style_lora$/);
    expect(await refusal(TXT2IMG, { prompt: '<lora:nope2:1>' }, l)).toMatch(/^prompt: LoRA "nope2"/);
    expect(count(s, 'POST', 'refresh-loras')).toBe(1);
    expect(count(s, 'GET', 'loras')).toBe(1);

    // After the interval, the next miss refreshes once more.
    now += 30_000;
    await refusal(TXT2IMG, { prompt: '<lora:nope:1>' }, l);
    expect(count(s, 'POST', 'refresh-loras')).toBe(2);
    expect(count(s, 'GET', 'loras')).toBe(2);
  });

  it('finds a checkpoint and a VAE added after the first fetch after refresh-checkpoints / refresh-vae', async () => {
    const s = await sim();
    const l = lists(s);
    await accepted(TXT2IMG, SEED_004.input.payload, l);
    s.addFiles({ models: ['juggernautXL_v9.safetensors'], vaes: ['vae-ft-mse-840000-ema-pruned.safetensors'] });
    s.requests.length = 0;
    await accepted(TXT2IMG, { override_settings: { sd_model_checkpoint: 'juggernautXL_v9', sd_vae: 'vae-ft-mse-840000-ema-pruned.safetensors' } }, l);
    for (const [method, route] of [
      ['POST', 'refresh-checkpoints'],
      ['GET', 'sd-models'],
      ['POST', 'refresh-vae'],
      ['GET', 'sd-vae'],
    ]) {
      expect(count(s, method!, route!)).toBe(1);
    }
    // The refresh comes before the fetch.
    const paths = s.requests.map((r) => r.path);
    expect(paths.indexOf('/sdapi/v1/refresh-checkpoints')).toBeLessThan(paths.indexOf('/sdapi/v1/sd-models'));
    // Lists without a refresh route that were just fetched are not fetched again for a miss.
    await refusal(TXT2IMG, { sampler_name: 'nope' }, l);
    expect(count(s, 'GET', 'samplers')).toBe(0);
    expect(s.requests.filter((r) => r.method === 'POST' && r.path.includes('refresh')).length).toBe(2);
  });

  it('re-fetches a list without a refresh route on a miss once the interval has passed', async () => {
    const s = await sim();
    let now = 0;
    const l = lists(s, { now: () => now });
    await refusal(TXT2IMG, { styles: ['Noir'] }, l);
    expect(count(s, 'GET', 'prompt-styles')).toBe(1);
    now += 31_000;
    await refusal(TXT2IMG, { styles: ['Noir'] }, l);
    expect(count(s, 'GET', 'prompt-styles')).toBe(2);
    expect(s.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('skips the checks of a list A1111 does not serve, and tries it again later', async () => {
    const s = await sim();
    let now = 0;
    const l = lists(s, { now: () => now });
    // A1111 before 1.9 has no /schedulers (404): no scheduler check and no split; samplers still checked.
    s.injectFault({ kind: 'status', status: 404, count: 1, route: 'schedulers', body: { detail: 'Not Found' } });
    const payload = { sampler_name: 'DPM++ 2M Karras', scheduler: 'whatever' };
    await accepted(TXT2IMG, { ...payload, sampler_name: 'Euler' }, l);
    expect((await l.get('schedulers')).available).toBe(false);
    expect(await refusal(TXT2IMG, payload, l)).toMatch(/^sampler_name: "DPM\+\+ 2M Karras" is not an A1111 sampler \(did you mean "DPM\+\+ 2M"\?\)/);
    expect(count(s, 'GET', 'schedulers')).toBe(1);
    now += 31_000;
    expect((await l.get('schedulers')).available).toBe(true);
    expect(count(s, 'GET', 'schedulers')).toBe(2);
  });

  it('throws A1111Error when A1111 is unreachable, and aborts with the job signal', async () => {
    const dead = new A1111Lists(new A1111Client(a1111Config({ url: `http://127.0.0.1:${await closedPort()}`, requestTimeoutMs: 5000 }), silentLog), silentLog);
    const err = await checkNames(TXT2IMG, { sampler_name: 'Euler' }, dead, { strict: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(A1111Error);
    expect((err as A1111Error).kind).toBe('unreachable');

    const s = await sim();
    s.injectFault({ kind: 'hang', count: 1, route: 'samplers' });
    const l = lists(s);
    const ac = new AbortController();
    const p = checkNames(TXT2IMG, { sampler_name: 'Euler' }, l, { strict: true, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('job cancelled')), 100);
    const aborted = await p.catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(A1111Error);
    expect((aborted as A1111Error).kind).toBe('aborted');
    expect(count(s, 'POST', 'interrupt')).toBe(0);
  });
});
