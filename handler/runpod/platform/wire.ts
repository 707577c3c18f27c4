/**
 * The HTTP client of all worker → platform traffic but the heartbeat (docs/runpod-protocol.md, "HTTP client
 * conventions (all worker→platform traffic)"): keep-alive connections (undici), the raw-key `Authorization`, the
 * User-Agent, `Accept-Encoding: gzip, deflate` as runpod-python's aiohttp session sends it. Every status is returned
 * to the caller; only a transport failure throws. undici costs a fraction of what axios did per request (three per
 * job: job-take, job-done, and the A1111 call on the other side), measured by `npm run bench`.
 */
import { Agent } from 'undici';
import { decodeBody, exchange, ExchangeTimeout } from '../../http-call.js';
import { joinParts, partsLength } from '../../parts.js';

/** An answer: status, content type and body text (decompressed). */
export interface WireAnswer {
  status: number;
  contentType: string | undefined;
  text: string;
}

/** A transport failure: `code` is the system's (`ECONNREFUSED`, `ECONNRESET` for a socket the other side closed) or `ETIMEDOUT`. */
export class WireError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'WireError';
  }
}

/**
 * Largest body assembled from parts into one buffer before sending; larger results (A1111's answer between the
 * envelope's two small parts) are streamed part by part, never copied.
 */
const CONCAT_MAX_BYTES = 64 * 1024;

/** The platform client of one worker. */
export class PlatformClient {
  private readonly agent = new Agent({ keepAliveTimeout: 4000 });
  private readonly headers: Record<string, string>;

  /**
   * @param apiKey `RUNPOD_AI_API_KEY`, sent raw as `Authorization` (no `Bearer`, docs/runpod-protocol.md, "aiohttp
   *   session (job-take, job-done, job-stream, job-stop, progress)"); none when undefined
   * @param userAgent the worker's User-Agent
   */
  constructor(apiKey: string | undefined, userAgent: string) {
    this.headers = { 'user-agent': userAgent, 'accept-encoding': 'gzip, deflate' };
    if (apiKey !== undefined) this.headers.authorization = apiKey;
  }

  /**
   * GET `url`, bounded by `timeoutMs` and `signal`.
   * @throws WireError (`ETIMEDOUT` when the bound ran out), or the signal's reason when it aborted
   */
  get(url: string, o: { signal?: AbortSignal; timeoutMs: number }): Promise<WireAnswer> {
    return this.exchange(url, 'GET', undefined, this.headers, o.timeoutMs, o.signal);
  }

  /**
   * POST the concatenation of `parts` (sent as they are: a large result is never copied into one buffer) with
   * `headers` added, bounded by `timeoutMs`. Content-Length is set from the parts.
   * @returns the answer's status
   * @throws WireError as {@link get}
   */
  async post(url: string, parts: readonly Buffer[], headers: Record<string, string>, timeoutMs: number): Promise<number> {
    const length = partsLength(parts);
    const body = parts.length === 1 || length <= CONCAT_MAX_BYTES ? joinParts(parts, length) : parts;
    const res = await this.exchange(url, 'POST', body, { ...this.headers, ...headers, 'content-length': String(length) }, timeoutMs);
    return res.status;
  }

  private async exchange(
    url: string,
    method: 'GET' | 'POST',
    body: Buffer | readonly Buffer[] | undefined,
    headers: Record<string, string>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<WireAnswer> {
    try {
      const res = await exchange(this.agent, url, {
        method,
        headers,
        signal,
        timeoutMs,
        ...(body === undefined ? {} : { body }),
      });
      const raw = joinParts(res.parts, res.length);
      return { status: res.status, contentType: res.contentType, text: decodeBody(raw, res.contentEncoding).toString('utf8') };
    } catch (e) {
      if (e instanceof ExchangeTimeout) throw new WireError(e.message, 'ETIMEDOUT');
      if (signal?.aborted) throw e;
      throw asWireError(e);
    }
  }
}

/** A transport error with its system code; undici's "other side closed" is the connection reset it is. */
function asWireError(e: unknown): WireError {
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = err.code ?? err.cause?.code ?? 'ERROR';
  return new WireError(err.message, code === 'UND_ERR_SOCKET' ? 'ECONNRESET' : code);
}
