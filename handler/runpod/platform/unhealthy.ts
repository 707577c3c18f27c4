/**
 * The "unhealthy" report a worker sends to RunPod just before a fatal exit (docs/runpod-protocol.md, 'Fitness checks and the "unhealthy" ping').
 *
 * What runpod-python does (`runpod/serverless/modules/rp_fitness.py`, `_report_unhealthy`, v1.11.0+, PR #537): when a
 * fitness check fails it sends **one** `GET` to `RUNPOD_WEBHOOK_PING` (`$RUNPOD_POD_ID` → the worker id), with the
 * query `status=unhealthy&check=<check name>&reason=<"ExcType: message"[:256]>&runpod_version=<v>`, header
 * `Authorization: <RUNPOD_AI_API_KEY>` (raw, as the heartbeat), timeout 2 s (`_REPORT_TIMEOUT_SECONDS = 2`); every
 * error is swallowed; nothing is sent when the ping URL is unset (or the SDK's `PING_NOT_SET`) or there is no API
 * key; then `os._exit(1)`. Its docstring says the report lets "the host … emit a queryable worker.fitness_failed
 * event".
 *
 * This worker sends the same report for its start-up checks (`startup-checks.ts`) and for its other fatal exits:
 * A1111 never ready by `A1111_READY_TIMEOUT_S`, the A1111 process (`A1111_PID`) exited, the warm-up failed.
 */
import { A1111Error, A1111ExitedError } from '../../errors/index.js';
import type { Log } from '../../log.js';
import { unhealthyUrl } from './urls.js';
import { WarmupError, StartupCheckError } from '../../errors/index.js';

/** Upper bound of the report, ms: runpod-python's `_REPORT_TIMEOUT_SECONDS = 2`. */
export const UNHEALTHY_REPORT_TIMEOUT_MS = 2000;

/**
 * The `check` names this worker reports.
 * - `gpu`, `memory`, `disk`: the start-up checks (`startup-checks.ts`);
 * - `a1111_ready`: no A1111 backend answered by `A1111_READY_TIMEOUT_S` (at start-up, or after a job found it gone);
 * - `a1111_exited`: the A1111 process named by `A1111_PID` exited;
 * - `a1111_warmup`: the warm-up generation (`A1111_WARMUP`) failed;
 * - `worker_error`: any other error that ends the worker loop.
 */
export type UnhealthyCheck = 'gpu' | 'memory' | 'disk' | 'a1111_ready' | 'a1111_exited' | 'a1111_warmup' | 'worker_error';

/** Where and how to report: the heartbeat's URL, key and User-Agent. */
export interface UnhealthyTarget {
  /** The ping URL with the worker id substituted (`resolvePingUrl`), or null when `RUNPOD_WEBHOOK_PING` is unset. */
  pingUrl: string | null;
  /** `RUNPOD_AI_API_KEY`, sent raw as `Authorization`; no report without it (as runpod-python). */
  apiKey: string | undefined;
  /** `runpod_version` value ({@link RUNPOD_VERSION}). */
  version: string;
  userAgent: string;
  /** Bound of the whole report, ms (default {@link UNHEALTHY_REPORT_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/**
 * The check name and reason for an error that ends the worker. The reason is `"<error name>: <message>"`, the shape
 * of runpod-python's `f"{error_type}: {error_message}"`.
 */
export function classifyFatal(e: Error): { check: UnhealthyCheck; reason: string } {
  let check: UnhealthyCheck;
  if (e instanceof StartupCheckError) check = e.check;
  else if (e instanceof A1111ExitedError) check = 'a1111_exited';
  else if (e instanceof WarmupError) check = 'a1111_warmup';
  else if (e instanceof A1111Error) check = 'a1111_ready';
  else check = 'worker_error';
  return { check, reason: `${e.name}: ${e.message}` };
}

/** What {@link reportUnhealthy} did. */
export type UnhealthyOutcome = { sent: true; status: number } | { sent: false; why: string };

/**
 * Sends the unhealthy report: one `GET` of {@link unhealthyUrl} with `Authorization` and `User-Agent`, bounded by
 * `timeoutMs` from start to answer (connect included). Best effort: it never throws and never takes longer than the
 * bound (a hung server is abandoned); the outcome is logged (DEBUG when sent, WARN when it failed).
 * @returns whether it was sent and the status, or why not (no ping URL or key, a network error, the timeout)
 */
export async function reportUnhealthy(target: UnhealthyTarget, check: UnhealthyCheck, reason: string, log: Log): Promise<UnhealthyOutcome> {
  if (!target.pingUrl || target.pingUrl === 'PING_NOT_SET' || !target.apiKey) {
    const why = !target.pingUrl || target.pingUrl === 'PING_NOT_SET' ? 'RUNPOD_WEBHOOK_PING is not set' : 'RUNPOD_AI_API_KEY is not set';
    log.debug(`Unhealthy report not sent: ${why}.`);
    return { sent: false, why };
  }
  const timeoutMs = target.timeoutMs ?? UNHEALTHY_REPORT_TIMEOUT_MS;
  const url = unhealthyUrl(target.pingUrl, check, reason, target.version);
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<UnhealthyOutcome>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve({ sent: false, why: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
  });
  const request = (async (): Promise<UnhealthyOutcome> => {
    try {
      const res = await fetch(url, {
        method: 'GET',
        headers: { Authorization: target.apiKey!, 'User-Agent': target.userAgent },
        signal: abort.signal,
      });
      // The answer is not used (runpod-python ignores it too); release the connection.
      await res.body?.cancel().catch(() => undefined);
      return { sent: true, status: res.status };
    } catch (e) {
      // fetch's own message is "fetch failed"; the reason (ECONNREFUSED, …) is its cause.
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause?.code ?? cause?.message;
      return { sent: false, why: detail ? `${(e as Error).message} (${detail})` : (e as Error).message };
    }
  })();
  const outcome = await Promise.race([request, deadline]);
  clearTimeout(timer);
  abort.abort();
  if (outcome.sent) log.debug(`Unhealthy report sent (check=${check}) | Status: ${outcome.status}`);
  else log.warn(`Unhealthy report (check=${check}) failed: ${outcome.why}`);
  return outcome;
}
