/**
 * What every outgoing HTTP call of the worker needs, whichever side it talks to (A1111 or the RunPod platform): the
 * exchange itself (undici's dispatcher), bounded by the caller's stop signal and its own time bound, both cleaned up
 * when the call ends, and an answer's body decoded from the Content-Encoding it came in.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Dispatcher } from 'undici';

/** An HTTP answer: status, the two headers the worker reads, and the body as the chunks it arrived in. */
export interface Exchanged {
  status: number;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** The body as the socket's reads gave it, in order (views, nothing copied). */
  parts: Buffer[];
  /** Body bytes in all. */
  length: number;
}

/** One request of {@link exchange}. */
export interface ExchangeRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** The request body: text, one buffer, or parts sent one after the other (never joined). */
  body?: string | Buffer | readonly Buffer[];
  /** Ends the exchange (with the signal's reason) when it aborts: the caller's stop. */
  signal?: AbortSignal | undefined;
  /** The exchange's own time bound, ms: past it the exchange ends with {@link ExchangeTimeout}. None when absent. */
  timeoutMs?: number | undefined;
}

/** The bound of one exchange: the caller's stop and its own time bound, ms. */
export type ExchangeBound = Pick<ExchangeRequest, 'signal' | 'timeoutMs'>;

/** The error of an exchange that ran out of its time bound ({@link ExchangeRequest.timeoutMs}). */
export class ExchangeTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'ExchangeTimeout';
  }
}

/**
 * One HTTP exchange through undici's dispatcher API (`Dispatcher.dispatch` with a handler): the answer's chunks are
 * collected as they come, without the response stream, promises and timers of undici's `request()` (three requests
 * per job: measured by `npm run bench`). undici's own header and body timeouts are off: the exchange is bounded by
 * the caller's signal and its own `timeoutMs`, a plain listener and timer both removed when it ends (no abort
 * controller of its own: one per call was measurable per job, and `AbortSignal.timeout`/`any` keep a timer, or the
 * parent's references, alive long after the call; an A1111 bound is minutes).
 * @throws the transport's error (undici's, with a `code`), {@link ExchangeTimeout}, or the signal's reason once it
 *   aborted
 */
export function exchange(dispatcher: Dispatcher, url: string, req: ExchangeRequest): Promise<Exchanged> {
  const { signal, timeoutMs } = req;
  return new Promise<Exchanged>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const u = new URL(url);
    let abort: ((e: Error) => void) | undefined;
    let settled = false;
    let ended: Error | undefined;
    // Ended before a socket took the request: it is rejected now, and dropped once undici connects it.
    const end = (e: Error): void => {
      ended ??= e;
      if (abort) abort(e);
      else settle(() => reject(e));
    };
    const onAbort = (): void => end(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => end(new ExchangeTimeout(timeoutMs)), timeoutMs);
    function settle(f: () => void): void {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      f();
    }
    const answer: Exchanged = { status: 0, contentType: undefined, contentEncoding: undefined, parts: [], length: 0 };
    dispatcher.dispatch(
      // Parts go as an Iterable, which undici's dispatch takes (its Dispatcher docs: body `… | Iterable | AsyncIterable`;
      // its types name only the stream). Not a Readable made of them: each such stream kept the parts it carried alive
      // until V8's next mark-compact (after 200 posts of 0.63 MB: 38 MB held,
      // against 3 MB with the parts as an Iterable; `npm run bench`, peak RSS).
      { origin: u.origin, path: u.pathname + u.search, method: req.method, headers: req.headers, body: (req.body ?? null) as Dispatcher.DispatchOptions['body'], headersTimeout: 0, bodyTimeout: 0 },
      {
        onConnect: (a) => {
          abort = a;
          if (ended) a(ended);
        },
        onHeaders: (status, raw) => {
          if (status < 200) return true; // 1xx: the real answer follows
          answer.status = status;
          for (let i = 0; i + 1 < raw.length; i += 2) {
            // Only two names are read: 12 and 16 bytes long; the others are not decoded.
            const n = raw[i]!;
            if (n.length !== 12 && n.length !== 16) continue;
            const name = n.toString('latin1').toLowerCase();
            if (name === 'content-type') answer.contentType = raw[i + 1]!.toString('latin1');
            else if (name === 'content-encoding') answer.contentEncoding = raw[i + 1]!.toString('latin1');
          }
          return true;
        },
        onData: (chunk) => {
          answer.parts.push(chunk);
          answer.length += chunk.length;
          return true;
        },
        onComplete: () => settle(() => resolve(answer)),
        onError: (e) => settle(() => reject(e)),
      },
    );
  });
}

/** An abort controller that follows a parent signal; {@link FollowedSignal.end} drops the parent's listener. */
export interface FollowedSignal {
  /** Aborted (with the parent's reason) when the parent aborts; abort it yourself for any other reason. */
  controller: AbortController;
  /** Removes the listener from the parent; call it once the work has ended, however it ended. */
  end(): void;
}

/**
 * A controller aborted when `parent` aborts (at once if it already has). A plain listener removed by `end()`:
 * `AbortSignal.any` costs a dependent-signal registry per call and keeps references until collected.
 */
export function followSignal(parent?: AbortSignal): FollowedSignal {
  const controller = new AbortController();
  const onStop = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) onStop();
  else parent?.addEventListener('abort', onStop, { once: true });
  return { controller, end: () => parent?.removeEventListener('abort', onStop) };
}

/** `bytes` decoded from `encoding` (gzip, deflate, br); identity and unknown encodings as they are. */
export function decodeBody(bytes: Buffer, encoding: string | undefined): Buffer {
  if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipSync(bytes);
  if (encoding === 'deflate') return inflateSync(bytes);
  if (encoding === 'br') return brotliDecompressSync(bytes);
  return bytes;
}
