/**
 * End to end, the SDCN task API dialect (seed 001): the built worker started with `--rp_serve_api` and the A1111
 * simulator, both as real processes, driven by `runpod-sdk`. A txt2img job with SDCN's loras/model/upscale
 * (COMPLETED with `{images}`, the exact A1111 payload in the simulator's log), an interrogate job (`{caption}`)
 * and an unknown LoRA (FAILED with the message, A1111 not called).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import type { SimProcess } from '../helpers/sim-process.js';
import { startLocalStack, type LocalStack, type SdkEndpoint } from '../helpers/local-stack.js';
import { untilFinal } from '../helpers/wait.js';

const KEY = 'e2e-sdcn-key';

interface StatusBody {
  id: string;
  status: string;
  output?: unknown;
  error?: string;
}

let stack: LocalStack;
let sim: SimProcess;
let endpoint: SdkEndpoint;

function png64(): string {
  const png = new PNG({ width: 64, height: 64 });
  png.data.fill(0x60);
  return PNG.sync.write(png).toString('base64');
}

const waitFinal = (id: string, ms = 30_000): Promise<StatusBody> => untilFinal<StatusBody>((i) => endpoint.status(i), id, ms);

beforeAll(async () => {
  stack = await startLocalStack({ simArgs: ['--step-ms', '1'], env: { RUNPOD_DEBUG_LEVEL: 'INFO' }, apiKey: KEY });
  ({ sim, endpoint } = stack);
});

afterAll(() => stack?.close());

describe('SDCN task API through the RunPod endpoint', () => {
  it('RUNSYNC /txt2img with loras, model and upscale → COMPLETED {images}; A1111 got the translated payload', async () => {
    const before = (await sim.requests()).length;
    const r = (await endpoint.runSync({
      input: {
        api: { method: 'POST', endpoint: '/txt2img' },
        payload: {
          prompt: 'A dog',
          loras: [
            ['add_detail', 0.5],
            ['lcm-lora-sdxl', 0.6],
          ],
          seed: 5,
          sampler_name: 'DDIM',
          steps: 3,
          cfg_scale: 7,
          width: 64,
          height: 64,
          negative_prompt: '',
          model: 'sd_xl_base_1.0',
          upscale: { denoising_strength: 0.5, scale: 1.5, upscaler: 'Latent' },
        },
      },
    } as never)) as StatusBody;
    expect(r.status).toBe('COMPLETED');
    const output = r.output as { images: string[] };
    expect(Object.keys(output)).toEqual(['images']);
    expect(output.images).toHaveLength(1);
    const png = PNG.sync.read(Buffer.from(output.images[0]!, 'base64'));
    expect([png.width, png.height]).toEqual([96, 96]);
    // Besides the progress polls and the name lists, one generation call, with exactly this body.
    expect((await sim.requests(before)).filter((c) => c.path === '/sdapi/v1/txt2img').map((c) => c.body)).toEqual([
      {
        prompt: 'A dog,<lora:add_detail:0.5>,<lora:lcm-lora-sdxl:0.6>',
        seed: 5,
        sampler_name: 'DDIM',
        steps: 3,
        cfg_scale: 7,
        width: 64,
        height: 64,
        negative_prompt: '',
        override_settings: { sd_model_checkpoint: 'sd_xl_base_1.0' },
        enable_hr: true,
        hr_scale: 1.5,
        hr_upscaler: 'Latent',
        denoising_strength: 0.5,
      },
    ]);
  });

  it('RUN /interrogate (deepdanbooru) → COMPLETED with exactly {caption}', async () => {
    const image = png64();
    const run = await endpoint.run({ input: { api: { method: 'POST', endpoint: '/interrogate' }, payload: { image, model: 'deepdanbooru' } } } as never);
    const s = await waitFinal(run.id);
    expect(s.status).toBe('COMPLETED');
    const direct = (await (
      await fetch(`${sim.url}/sdapi/v1/interrogate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image, model: 'deepdanbooru' }) })
    ).json()) as { caption: string };
    expect(s.output).toEqual({ caption: direct.caption });
  });

  it('an unknown LoRA → COMPLETED as A1111 ignores it (a logged warning; STRICT_NAMES=true refuses it)', async () => {
    const before = (await sim.requests()).length;
    const run = await endpoint.run({ input: { api: { method: 'POST', endpoint: '/txt2img' }, payload: { prompt: 'x', loras: [['detail', 0.5]], steps: 1, width: 64, height: 64 } } } as never);
    const s = await waitFinal(run.id);
    expect(s.status).toBe('COMPLETED');
    const sent = (await sim.requests(before)).filter((c) => c.path === '/sdapi/v1/txt2img');
    expect(sent.map((c) => (c.body as { prompt: string }).prompt)).toEqual(['x,<lora:detail:0.5>']);
  });
});
