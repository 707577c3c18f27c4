/**
 * What every outgoing HTTP call of the worker needs, whichever side it talks to (A1111 or the RunPod platform): the
 * exchange itself (undici's dispatcher), one abort signal for the caller's stop and the call's own time bound,
 * cleaned up when the call ends, and an answer's body decoded from the Content-Encoding it came in.
 */
import type { Readable } from 'node:stream';
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
  body?: string | Buffer | Readable;
  /** Ends the exchange (with the signal's reason) when it aborts. */
  signal: AbortSignal;
}

/**
 * One HTTP exchange through undici's dispatcher API (`Dispatcher.dispatch` with a handler): the answer's chunks are
 * collected as they come, without the response stream, promises and timers of undici's `request()` (three requests
 * per job: measured by `npm run bench`). undici's own header and body timeouts are off: the caller's signal bounds
 * the call ({@link callDeadline}).
 * @throws the transport's error (undici's, with a `code`), or the signal's reason once it aborted
 */
export function exchange(dispatcher: Dispatcher, url: string, req: ExchangeRequest): Promise<Exchanged> {
  const { signal } = req;
  return new Promise<Exchanged>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const u = new URL(url);
    let abort: ((e: Error) => void) | undefined;
    let settled = false;
    // Aborted before a socket took the request: it is rejected now, and dropped once undici connects it.
    const onAbort = (): void => (abort ? abort(signal.reason as Error) : settle(() => reject(signal.reason as Error)));
    signal.addEventListener('abort', onAbort, { once: true });
    function settle(f: () => void): void {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      f();
    }
    const answer: Exchanged = { status: 0, contentType: undefined, contentEncoding: undefined, parts: [], length: 0 };
    dispatcher.dispatch(
      { origin: u.origin, path: u.pathname + u.search, method: req.method, headers: req.headers, body: req.body ?? null, headersTimeout: 0, bodyTimeout: 0 },
      {
        onConnect: (a) => {
          abort = a;
          if (signal.aborted) a(signal.reason as Error);
        },
        onHeaders: (status, raw) => {
          if (status < 200) return true; // 1xx: the real answer follows
          answer.status = status;
          for (let i = 0; i + 1 < raw.length; i += 2) {
            const name = raw[i]!.toString('latin1').toLowerCase();
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

/** The signal of one call and its cleanup. */
export interface CallDeadline {
  /** Aborted when `parent` aborts (with its reason) or when the time bound passes. */
  signal: AbortSignal;
  /** True once the time bound (not the parent) aborted the call. */
  timedOut(): boolean;
  /** Clears the timer and the parent listener; call it when the call has ended, however it ended. */
  end(): void;
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

/**
 * A signal for one call, aborted by `parent` or after `timeoutMs` (ms). A plain timer and listener, both removed by
 * `end()`: `AbortSignal.timeout` and `AbortSignal.any` would keep a timer, or the parent's references, alive long after
 * the call (an A1111 bound is minutes).
 */
export function callDeadline(timeoutMs: number, parent?: AbortSignal): CallDeadline {
  const followed = followSignal(parent);
  const ac = followed.controller;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new Error(`no answer within ${timeoutMs} ms`));
  }, timeoutMs);
  return {
    signal: ac.signal,
    timedOut: () => timedOut,
    end() {
      clearTimeout(timer);
      followed.end();
    },
  };
}

/** `bytes` decoded from `encoding` (gzip, deflate, br); identity and unknown encodings as they are. */
export function decodeBody(bytes: Buffer, encoding: string | undefined): Buffer {
  if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipSync(bytes);
  if (encoding === 'deflate') return inflateSync(bytes);
  if (encoding === 'br') return brotliDecompressSync(bytes);
  return bytes;
}
