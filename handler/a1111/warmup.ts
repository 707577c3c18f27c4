/**
 * The warm-up generation (`A1111_WARMUP`), run once per backend after its readiness and before it takes jobs: A1111
 * opens its port before the checkpoint is loaded (docs/a1111-api.md, "Startup sequence and readiness"), so a first
 * small txt2img makes the first real job as fast as the others.
 */
import type { A1111Config } from '../config.js';
import { WarmupError } from '../errors/index.js';
import type { Log } from '../log.js';
import type { A1111Client } from './client.js';

/**
 * Runs the warm-up on one backend and logs its duration (or that it is disabled).
 * @param config the worker's A1111 settings (`warmup` payload; `urls` decide whether the log names the backend)
 * @throws WarmupError with A1111's message when it fails (the worker then exits 1, reporting check `a1111_warmup`)
 */
export async function warmUp(config: A1111Config, log: Log, a1111: A1111Client, signal: AbortSignal): Promise<void> {
  const payload = config.warmup;
  const where = (config.urls?.length ?? 1) > 1 ? ` at ${a1111.config.url}` : '';
  if (payload === null) {
    log.info(`A1111 warm-up disabled (A1111_WARMUP=false)${where}.`);
    return;
  }
  const t0 = performance.now();
  try {
    await a1111.call('POST', '/sdapi/v1/txt2img', payload, { signal });
  } catch (e) {
    throw new WarmupError(`A1111 warm-up failed${where}: ${(e as Error).message}`);
  }
  log.info(`A1111 warm-up${where} (txt2img ${payload.steps ?? '?'} step(s), ${payload.width ?? '?'}×${payload.height ?? '?'}) took ${Math.round(performance.now() - t0)} ms.`);
}
