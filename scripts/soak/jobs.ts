/**
 * The soak's jobs: what each one asks for, and the check of a COMPLETED job's images against that (pngjs).
 */
import { PNG } from 'pngjs';

/** The body of one soak job (`/run`), a txt2img request. */
export interface JobSpec {
  input: { prompt: string; steps: number; width: number; height: number; batch_size: number; seed: number };
}

/** The i-th job: small images of a few sizes (px), one or two per job. */
export function jobSpec(i: number): JobSpec {
  return { input: { prompt: `soak job ${i}`, steps: 1 + (i % 3), width: i % 3 === 0 ? 128 : 64, height: 64, batch_size: 1 + (i % 2), seed: i } };
}

/** Checks a COMPLETED output: `images` holds `batch_size` PNGs of the size the job's input asked for. */
export function checkImages(output: unknown, input: Partial<JobSpec['input']> | undefined): { decoded: number; problems: string[] } {
  const images = (output as { images?: unknown } | null)?.images;
  if (!Array.isArray(images)) return { decoded: 0, problems: ['output has no images list'] };
  const problems: string[] = [];
  let decoded = 0;
  if (images.length !== input?.batch_size) problems.push(`${images.length} images, expected ${input?.batch_size}`);
  for (const [k, b64] of images.entries()) {
    try {
      const png = PNG.sync.read(Buffer.from(String(b64), 'base64'));
      if (png.width !== input?.width || png.height !== input?.height) {
        problems.push(`image ${k} is ${png.width}×${png.height}, expected ${input?.width}×${input?.height}`);
      } else {
        decoded++;
      }
    } catch (e) {
      problems.push(`image ${k} does not decode: ${(e as Error).message}`);
    }
  }
  return { decoded, problems };
}
