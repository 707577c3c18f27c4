/**
 * The OpenAI-style images API end to end: the built worker (`--rp_serve_api`: local endpoint + real worker loop) and
 * the A1111 simulator, both real processes, driven by `runpod-sdk`. Checks the A1111 payload each job became (the
 * simulator's request log over HTTP) and the OpenAI-shaped output RunPod returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import type { SimProcess } from '../helpers/sim-process.js';
import { startLocalStack, type LocalStack, type SdkEndpoint } from '../helpers/local-stack.js';

interface StatusBody {
  id: string;
  status: string;
  output?: { created?: number; data?: Array<Record<string, unknown>> } & Record<string, unknown>;
  error?: string;
}

let stack: LocalStack;
let sim: SimProcess;
let endpoint: SdkEndpoint;

beforeAll(async () => {
  stack = await startLocalStack({ simArgs: ['--step-ms', '1'], env: { RUNPOD_DEBUG_LEVEL: 'INFO' } });
  ({ sim, endpoint } = stack);
});

afterAll(() => stack?.close());

/** Runs a job with runpod-sdk's runSync; returns the final body, the A1111 requests it made and the time window (s). */
async function runSync(input: Record<string, unknown>): Promise<{ r: StatusBody; calls: Array<{ path: string; body: unknown }>; t0: number; t1: number }> {
  const before = (await sim.requests()).length;
  const t0 = Math.floor(Date.now() / 1000);
  const r = (await endpoint.runSync({ input } as never, 60_000)) as StatusBody;
  const t1 = Math.floor(Date.now() / 1000);
  const calls = (await sim.requests(before)).filter((c) => c.path === '/sdapi/v1/txt2img' || c.path === '/sdapi/v1/img2img');
  return { r, calls, t0, t1 };
}

describe('OpenAI images API through the local endpoint', () => {
  it("seed 003's sd-api-server request (real checkpoint): sd-api-server's defaults in the txt2img payload, {created, data: [{b64_json}]} out", async () => {
    const payload = {
      model: 'v1-5-pruned-emaonly',
      prompt: 'A painting of a beautiful sunset over a calm lake.',
      negative_prompt: 'No people or animals in the image.',
      n: 1,
      cfg_scale: 7.0,
      sample_method: 'euler_a',
      steps: 20,
      size: '512x512',
      control_strength: 0.9,
      seed: 42,
    };
    const { r, calls, t0, t1 } = await runSync({ api: { method: 'POST', endpoint: '/v1/images/generations' }, payload });
    expect(r.status, r.error).toBe('COMPLETED');
    expect(calls.map((c) => [c.path, c.body])).toEqual([
      [
        '/sdapi/v1/txt2img',
        {
          prompt: payload.prompt,
          negative_prompt: payload.negative_prompt,
          cfg_scale: 7,
          steps: 20,
          seed: 42,
          width: 512,
          height: 512,
          batch_size: 1,
          sampler_name: 'Euler a',
          override_settings: { sd_model_checkpoint: 'v1-5-pruned-emaonly' },
        },
      ],
    ]);
    const out = r.output!;
    expect(Object.keys(out)).toEqual(['created', 'data']);
    expect(out.created).toBeGreaterThanOrEqual(t0);
    expect(out.created).toBeLessThanOrEqual(t1);
    expect(out.data).toHaveLength(1);
    expect(Object.keys(out.data![0]!)).toEqual(['b64_json']);
    const png = PNG.sync.read(Buffer.from(out.data![0]!.b64_json as string, 'base64'));
    expect([png.width, png.height]).toEqual([512, 512]);
  });

  it('an edit: init_images [image], strength 0.75 by default, two images (n) out', async () => {
    const src = new PNG({ width: 64, height: 64 });
    src.data.fill(0x60);
    const image = PNG.sync.write(src).toString('base64');
    const { r, calls } = await runSync({ api: { method: 'POST', endpoint: '/v1/images/edits' }, payload: { image, prompt: 'make it blue', n: 2, size: '64x64', steps: 3 } });
    expect(r.status, r.error).toBe('COMPLETED');
    expect(calls.map((c) => [c.path, c.body])).toEqual([
      ['/sdapi/v1/img2img', { init_images: [image], prompt: 'make it blue', batch_size: 2, width: 64, height: 64, steps: 3, seed: 42, sampler_name: 'Euler a', cfg_scale: 7, denoising_strength: 0.75 }],
    ]);
    expect(r.output!.data!.map((d) => Object.keys(d))).toEqual([['b64_json'], ['b64_json']]);
  });

  it('response_format "url" on an endpoint without a bucket: FAILED before A1111, saying how to configure one', async () => {
    const { r, calls } = await runSync({ api: { method: 'POST', endpoint: '/v1/images/generations' }, payload: { prompt: 'x', response_format: 'url' } });
    expect(r.status).toBe('FAILED');
    expect(calls).toEqual([]);
    expect(r.error).toMatch(/needs a bucket: set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY \(and BUCKET_NAME\) on the endpoint, or send s3Config/);
  });
});
