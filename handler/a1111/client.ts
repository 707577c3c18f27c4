/**
 * The A1111 HTTP client (ARCHITECTURE.md `handler/a1111/`): keep-alive connections (undici, through http-call.ts
 * `exchange`), readiness wait, calls with a total timeout, interrupt on timeout, and one error shape for every failure.
 */
import pRetry, { AbortError } from 'p-retry';
import { Agent } from 'undici';
import type { A1111Config } from '../config.js';
import type { Log } from '../log.js';
import { decodeBody, exchange, ExchangeTimeout, type ExchangeBound } from '../http-call.js';
import { joinParts } from '../parts.js';
import { formatA1111Error } from './errors.js';
import { isProcessAlive } from './process.js';
import { A1111Error, A1111ExitedError } from '../errors/index.js';

export { formatA1111Error, type A1111ErrorFields } from './errors.js';

/** A readiness try that did not get a 200 (retried until the deadline). */
class NotReady extends Error {}

/**
 * A successful answer: status and the raw (decompressed) body bytes. The body is kept as the parts it arrived in
 * (the socket's reads): a large answer passed through to the job's result is never copied into one buffer.
 */
export interface A1111Response {
  status: number;
  /** The body as one buffer: the parts joined on first read (a copy, made once), or the only part. */
  readonly body: Buffer;
  /** The body as it arrived, in order; absent when {@link body} is the only part. */
  readonly parts?: readonly Buffer[];
}

/**
 * An answer of parts. A class, not an object literal with a getter: what such a literal's getter holds survives every
 * minor collection until V8's next mark-compact (measured: 60 answers of 0.63 MB made so were all still held after a
 * minor collection, 36 MB, and none with this class; a plain loop of such literals shows the same). The likely reason:
 * V8 makes the accessor of each such object in its old generation, and an old object's references keep young ones
 * alive through minor collections until a mark-compact finds it dead. Peak RSS: `npm run bench`.
 */
class PartsAnswer implements A1111Response {
  private joined: Buffer | undefined;
  constructor(
    readonly status: number,
    readonly parts: readonly Buffer[],
    private readonly length: number,
  ) {}
  get body(): Buffer {
    return (this.joined ??= joinParts(this.parts, this.length));
  }
}

/** An answer whose body is `parts` (`length` bytes in all), joined only when {@link A1111Response.body} is read. */
export function answerOfParts(status: number, parts: readonly Buffer[], length: number): A1111Response {
  return new PartsAnswer(status, parts, length);
}

/** The body of an answer as parts: {@link A1111Response.parts}, or its one buffer. */
export function bodyParts(answer: A1111Response): readonly Buffer[] {
  return answer.parts ?? [answer.body];
}

/** Options of one call. */
export interface CallOptions {
  /** Aborts the call (job stopped). */
  signal?: AbortSignal;
  /** Total timeout in ms; default `A1111_REQUEST_TIMEOUT_S`. */
  timeoutMs?: number;
  /** What set `timeoutMs`, named in the timeout message (default `A1111_REQUEST_TIMEOUT_S`). */
  timeoutName?: string;
  /** Do not send `POST /sdapi/v1/interrupt` when this call is aborted or times out (read-only calls such as progress). */
  noInterrupt?: boolean;
}

/** Transport failures that mean A1111 is not there (system codes, and undici's for a socket closed or not opened). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The code of a transport error (`ECONNREFUSED`, undici's `UND_ERR_*`), or of its cause; `ERROR` when none. */
function errorCode(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  return err.code ?? err.cause?.code ?? 'ERROR';
}

/** What calls A1111 without caring which backend answers: one {@link A1111Client}, or a pool's any-backend caller. */
export type A1111Caller = Pick<A1111Client, 'call' | 'config'>;

/** The A1111 API client for one backend. */
export class A1111Client {
  /** Keep-alive connections to this backend (undici: a fraction of axios's cost per call, measured by `npm run bench`). */
  private readonly agent = new Agent({ keepAliveTimeout: 4000 });
  /** `A1111_URL` without a trailing slash; paths are appended. */
  private readonly base: string;
  /** Headers of every call: the identity encoding, and HTTP Basic when A1111 runs with --api-auth. */
  private readonly headers: Record<string, string>;
  /** Set when a call found A1111 unreachable; the next job-take waits for readiness first. */
  needsReadyCheck = false;

  constructor(
    readonly config: A1111Config,
    private readonly log: Log,
  ) {
    this.base = config.url.replace(/\/+$/, '');
    // A1111 gzips every answer ≥ 1000 bytes when asked (docs/a1111-api.md, "Startup sequence and readiness", GZip
    // middleware). On loopback that only burns CPU on both sides (base64 PNGs barely compress): ask for identity.
    this.headers = { 'accept-encoding': 'identity' };
    // A1111 started with --api-auth: HTTP Basic on every call (the credentials are never logged).
    if (config.auth) this.headers.authorization = `Basic ${Buffer.from(`${config.auth.username}:${config.auth.password}`).toString('base64')}`;
  }

  /**
   * Calls A1111. `payload` is sent as JSON for POST (exactly as given: no defaults added); GET sends no body.
   * @returns the 2xx answer's raw body
   * @throws A1111Error (`http`, `timeout`, `unreachable`, `aborted`). On `timeout` a `POST /sdapi/v1/interrupt`
   *   is sent first so that A1111 stops working on the abandoned request.
   */
  async call(method: 'GET' | 'POST', path: string, payload?: unknown, opts: CallOptions = {}): Promise<A1111Response> {
    const timeoutMs = opts.timeoutMs ?? this.config.requestTimeoutMs;
    let res: A1111Response;
    try {
      res = await this.exchange(method, path, method === 'POST' ? JSON.stringify(payload ?? {}) : undefined, { signal: opts.signal, timeoutMs });
    } catch (e) {
      const err = e as Error;
      if (opts.signal?.aborted) {
        // The job was stopped (cancel, execution timeout): stop the GPU work too.
        if (!opts.noInterrupt) await this.interrupt();
        throw new A1111Error(`A1111 call ${method} ${path} aborted: ${String(opts.signal.reason ?? 'stopped')}`, 'aborted', null, method, path);
      }
      if (e instanceof ExchangeTimeout) {
        if (!opts.noInterrupt) await this.interrupt();
        const secs = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`;
        throw new A1111Error(
          `A1111 timeout on ${method} ${path}: no answer within ${secs} (${opts.timeoutName ?? 'A1111_REQUEST_TIMEOUT_S'})${opts.noInterrupt ? '' : '; sent POST /sdapi/v1/interrupt'}`,
          'timeout',
          null,
          method,
          path,
        );
      }
      const code = errorCode(e);
      const unreachable = UNREACHABLE_CODES.has(code) || /socket hang up|other side closed/i.test(err.message);
      if (unreachable) this.needsReadyCheck = true;
      const exited = unreachable ? this.exitedPid() : null;
      throw new A1111Error(
        `A1111 unreachable on ${method} ${path}: ${code}: ${err.message}${exited !== null ? `; A1111 process ${exited} exited` : ''}`,
        unreachable ? 'unreachable' : 'http',
        null,
        method,
        path,
      );
    }
    if (res.status < 200 || res.status >= 300) {
      const { message, fields } = formatA1111Error(res.status, method, path, res.body);
      throw new A1111Error(message, 'http', res.status, method, path, fields);
    }
    return res;
  }

  /**
   * One HTTP exchange with this backend: `body` (JSON text) for POST; the whole answer read as its parts,
   * decompressed (into one buffer) if A1111 compressed it anyway.
   * @throws the transport's error (undici's, with a `code`), ExchangeTimeout, or the signal's reason when it aborts
   */
  private async exchange(method: 'GET' | 'POST', path: string, body: string | undefined, bound: ExchangeBound): Promise<A1111Response> {
    const res = await exchange(this.agent, this.base + path, {
      method,
      ...bound,
      headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body }),
    });
    const encoding = res.contentEncoding;
    // A Content-Encoding A1111 was not asked for (a proxy's gzip) is decoded.
    if (encoding !== undefined && encoding !== 'identity') return { status: res.status, body: decodeBody(joinParts(res.parts, res.length), encoding) };
    return answerOfParts(res.status, res.parts, res.length);
  }

  /** `POST /sdapi/v1/interrupt` (docs/a1111-api.md, "Concurrency, queue lock, progress"), best effort with a 5 s timeout; never throws. */
  async interrupt(): Promise<boolean> {
    try {
      const r = await this.exchange('POST', '/sdapi/v1/interrupt', '{}', { timeoutMs: 5000 });
      return r.status >= 200 && r.status < 300;
    } catch (e) {
      this.log.warn(`POST /sdapi/v1/interrupt failed: ${(e as Error).message}`);
      return false;
    }
  }

  /**
   * The A1111 process id (`A1111_PID`, {@link A1111Config.pid}) when it is known and that process has exited
   * (gone, or a zombie); null while it runs or when no PID is known (A1111 not started by `start.sh`).
   */
  exitedPid(): number | null {
    const pid = this.config.pid;
    return pid !== undefined && !isProcessAlive(pid) ? pid : null;
  }

  /**
   * Waits until `GET /sdapi/v1/sd-models` answers 200 (any other answer or a transport error means "not yet"),
   * trying every `A1111_READY_INTERVAL_MS` (≤ 250 ms) with a per-try timeout, until `A1111_READY_TIMEOUT_S`.
   * When the A1111 process is known (`A1111_PID`), it is checked before every try: once it has exited the wait
   * stops at once with {@link A1111ExitedError} (fail fast) instead of waiting out the deadline.
   * @returns the time waited, ms
   * @throws A1111ExitedError when the A1111 process (`A1111_PID`) has exited; A1111Error (`unreachable`) naming the
   *   URL, the deadline and the last failure when the deadline passes; or (`aborted`) when `signal` aborts.
   */
  async waitReady(signal?: AbortSignal): Promise<number> {
    const start = performance.now();
    const deadline = start + this.config.readyTimeoutMs;
    const seconds = Math.round(this.config.readyTimeoutMs / 1000);
    let last = 'no answer yet';
    let tries = 0;
    let lastLog = start;
    const aborted = (): A1111Error => new A1111Error('readiness wait aborted', 'aborted', null, 'GET', '/sdapi/v1/sd-models');
    /** One try: resolves on 200; throws NotReady (retried), or AbortError around A1111ExitedError (not retried). */
    const attempt = async (): Promise<void> => {
      if (signal?.aborted) throw new AbortError(aborted());
      const exited = this.exitedPid();
      if (exited !== null) throw new AbortError(new A1111ExitedError(exited, this.config.url));
      tries++;
      const remaining = deadline - performance.now();
      try {
        const r = await this.exchange('GET', '/sdapi/v1/sd-models', undefined, { signal, timeoutMs: Math.ceil(Math.max(100, Math.min(5000, remaining))) });
        if (r.status === 200) return;
        last = `HTTP ${r.status}`;
      } catch (e) {
        last = `${errorCode(e)}: ${(e as Error).message}`;
      }
      throw new NotReady(last);
    };
    try {
      // A try every A1111_READY_INTERVAL_MS until A1111_READY_TIMEOUT_S (the last pause is cut to the deadline).
      await pRetry(attempt, {
        retries: Infinity,
        factor: 1,
        minTimeout: this.config.readyIntervalMs,
        maxTimeout: this.config.readyIntervalMs,
        maxRetryTime: this.config.readyTimeoutMs,
        ...(signal ? { signal } : {}),
        onFailedAttempt: () => {
          const now = performance.now();
          if (now - lastLog < 15_000) return;
          lastLog = now;
          this.log.info(`A1111 not ready yet (${tries} tries, last: ${last}); retrying until ${seconds} s have passed.`);
        },
      });
    } catch (e) {
      if (e instanceof A1111Error) throw e; // exited, or aborted before a try
      if (signal?.aborted) throw aborted();
      throw new A1111Error(
        `A1111 at ${this.config.url} not ready after ${seconds} s (A1111_READY_TIMEOUT_S); ${tries} tries of GET /sdapi/v1/sd-models, last: ${last}`,
        'unreachable',
        null,
        'GET',
        '/sdapi/v1/sd-models',
      );
    }
    this.needsReadyCheck = false;
    return performance.now() - start;
  }
}
