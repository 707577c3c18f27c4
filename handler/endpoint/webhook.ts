/**
 * Webhook delivery of the local endpoint emulator (protocol spec §17 "Webhooks"): when a job reaches a final
 * state its cloud-shaped status is POSTed as JSON to the request's `webhook`; only HTTP 200 counts as delivered;
 * a failed attempt is retried 2 more times, a fixed delay apart. Deliveries run in the background and never
 * block the queue or an HTTP answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Log } from '../log.js';

/** Attempts per webhook: the first plus "up to 2 more" (spec §17). */
export const WEBHOOK_ATTEMPTS = 3;

/** Options of {@link WebhookSender}. */
export interface WebhookOptions {
  /** Delay between attempts, ms (spec §17: 10 s). */
  retryDelayMs: number;
  /** Bound of one attempt (connect + answer), ms. */
  timeoutMs: number;
  log: Log;
}

/** Sends webhooks in the background; {@link close} abandons the ones still pending. */
export class WebhookSender {
  private readonly abort = new AbortController();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly o: WebhookOptions) {}

  /**
   * Starts delivering `body` to `url` (returns at once). Failures are logged (WARN per attempt, ERROR on give-up),
   * never thrown.
   * @param jobId used in log lines only
   */
  send(url: string, body: Record<string, unknown>, jobId: string): void {
    const p = this.deliver(url, JSON.stringify(body), jobId).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Resolves once every delivery started so far has succeeded or given up (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Abandons pending deliveries and retry delays. */
  close(): void {
    this.abort.abort();
  }

  private async deliver(url: string, text: string, jobId: string): Promise<void> {
    const { log, retryDelayMs, timeoutMs } = this.o;
    for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
      if (this.abort.signal.aborted) return;
      let problem: string;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'RunPod-Local-Endpoint' },
          body: text,
          redirect: 'manual',
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status === 200) {
          log.debug(`Webhook delivered to ${url} (attempt ${attempt}).`, jobId);
          return;
        }
        problem = `HTTP ${res.status}`;
      } catch (e) {
        if (this.abort.signal.aborted) return;
        problem = (e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : String((e as Error).cause ?? (e as Error).message);
      }
      if (attempt === WEBHOOK_ATTEMPTS) {
        log.error(`Webhook to ${url} failed after ${attempt} attempts (last: ${problem}); giving up.`, jobId);
        return;
      }
      log.warn(`Webhook to ${url} failed (attempt ${attempt} of ${WEBHOOK_ATTEMPTS}: ${problem}); retrying in ${retryDelayMs} ms.`, jobId);
      await sleep(retryDelayMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
    }
  }
}
