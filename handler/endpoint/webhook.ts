/**
 * Webhook delivery of the local endpoint emulator (RunPod docs serverless/endpoints/send-requests.mdx, "Webhook
 * notifications"): when a job reaches a final state its cloud-shaped status is POSTed as JSON to the request's
 * `webhook`; only HTTP 200 counts as delivered; a failed attempt is retried 2 more times, a fixed delay apart
 * (p-retry). Deliveries run in the background and never block the queue or an HTTP answer.
 */
import pRetry, { AbortError } from 'p-retry';
import type { Log } from '../log.js';

/** Attempts per webhook: the first plus "up to 2 more" (RunPod docs, "Webhook notifications"). */
export const WEBHOOK_ATTEMPTS = 3;

/** Options of {@link WebhookSender}. */
export interface WebhookOptions {
  /** Delay between attempts, ms (RunPod's: 10 s). */
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
    const signal = this.abort.signal;
    /** One attempt: resolves on HTTP 200, else throws an Error whose message names the problem. */
    const attempt = async (n: number): Promise<void> => {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'RunPod-Local-Endpoint' },
          body: text,
          redirect: 'manual',
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        });
      } catch (e) {
        if (signal.aborted) throw new AbortError('closed');
        // A plain Error, so that p-retry retries it (it gives up at once on most TypeErrors).
        throw new Error((e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : String((e as Error).cause ?? (e as Error).message));
      }
      await res.arrayBuffer().catch(() => undefined);
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      log.debug(`Webhook delivered to ${url} (attempt ${n}).`, jobId);
    };
    try {
      await pRetry(attempt, {
        retries: WEBHOOK_ATTEMPTS - 1,
        factor: 1,
        minTimeout: retryDelayMs,
        maxTimeout: retryDelayMs,
        signal,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft > 0) {
            log.warn(`Webhook to ${url} failed (attempt ${attemptNumber} of ${WEBHOOK_ATTEMPTS}: ${error.message}); retrying in ${retryDelayMs} ms.`, jobId);
          }
        },
      });
    } catch (e) {
      if (signal.aborted) return;
      log.error(`Webhook to ${url} failed after ${WEBHOOK_ATTEMPTS} attempts (last: ${(e as Error).message}); giving up.`, jobId);
    }
  }
}
