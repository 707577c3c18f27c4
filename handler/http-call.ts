/**
 * What every outgoing HTTP call of the worker needs, whichever side it talks to (A1111 or the RunPod platform): one
 * abort signal for the caller's stop and the call's own time bound, cleaned up when the call ends, and an answer's
 * body decoded from the Content-Encoding it came in.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

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
