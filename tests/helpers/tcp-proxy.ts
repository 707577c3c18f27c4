/**
 * A loopback TCP proxy that can delay, hold, blackhole, refuse or reset connections, for fault tests of a client
 * (here: the worker talking to the platform) without touching either side's code.
 *
 * Modes, switchable at any time; they apply to open connections as well as to new ones:
 * - `pass`: bytes flow both ways (after `delayMs`, if set);
 * - `hold`: bytes are kept, in order, and delivered when the mode goes back to `pass` (a server that stopped
 *   answering and then answers again);
 * - `blackhole`: bytes are dropped for good (a half-dead network path); only a reset or the client's own timeout
 *   ends such a request;
 * - `refuse`: new connections are reset as soon as they are accepted; open ones behave as in `pass`.
 */
import net from 'node:net';

/** See the module comment. */
export type ProxyMode = 'pass' | 'hold' | 'blackhole' | 'refuse';

/** Options of {@link startTcpProxy}. */
export interface TcpProxyOptions {
  /** Where connections go: `http://host:port` (path ignored) or `{host, port}`. */
  target: string | { host: string; port: number };
  /** Initial mode; default `pass`. */
  mode?: ProxyMode;
  /** Latency added to every chunk in `pass` mode, ms; default 0. */
  delayMs?: number;
}

/** A running proxy. */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The current mode. */
  readonly mode: ProxyMode;
  /** Switches mode; going to `pass` delivers everything held, in order. */
  setMode(mode: ProxyMode): void;
  /** Sets the per-chunk latency of `pass` mode, ms. */
  setDelay(ms: number): void;
  /** Resets (TCP RST) every open connection on the client side and closes its upstream. Returns how many. */
  resetAll(): number;
  /** Connections accepted so far, and open now. */
  counts(): { accepted: number; open: number; refused: number };
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** Bytes held per direction while in `hold` mode. */
  held: { up: Buffer[]; down: Buffer[] };
  /** A side ended while its bytes were held: end the other side once they are delivered. */
  ended: { up: boolean; down: boolean };
}

/** Starts the proxy on an ephemeral loopback port. */
export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const target = typeof opts.target === 'string' ? (() => {
    const u = new URL(opts.target);
    return { host: u.hostname, port: Number(u.port) };
  })() : opts.target;
  let mode: ProxyMode = opts.mode ?? 'pass';
  let delayMs = opts.delayMs ?? 0;
  const pairs = new Set<Pair>();
  let accepted = 0;
  let refused = 0;

  const deliver = (pair: Pair, dir: 'up' | 'down', chunk: Buffer): void => {
    const to = dir === 'up' ? pair.upstream : pair.client;
    const write = (): void => {
      if (!to.destroyed) to.write(chunk);
    };
    if (delayMs > 0) setTimeout(write, delayMs);
    else write();
  };
  const endSide = (pair: Pair, dir: 'up' | 'down'): void => {
    const to = dir === 'up' ? pair.upstream : pair.client;
    const end = (): void => {
      if (!to.destroyed) to.end();
    };
    if (delayMs > 0) setTimeout(end, delayMs);
    else end();
  };
  const onData = (pair: Pair, dir: 'up' | 'down', chunk: Buffer): void => {
    if (mode === 'blackhole') return;
    if (mode === 'hold' || pair.held[dir].length > 0) {
      pair.held[dir].push(chunk);
      return;
    }
    deliver(pair, dir, chunk);
  };
  const onEnd = (pair: Pair, dir: 'up' | 'down'): void => {
    if (mode === 'hold' || pair.held[dir].length > 0) pair.ended[dir] = true;
    else endSide(pair, dir);
  };
  const flush = (pair: Pair): void => {
    for (const dir of ['up', 'down'] as const) {
      for (const chunk of pair.held[dir].splice(0)) deliver(pair, dir, chunk);
      if (pair.ended[dir]) endSide(pair, dir);
    }
  };

  const server = net.createServer((client) => {
    if (mode === 'refuse') {
      refused++;
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const upstream = net.connect(target.port, target.host);
    const pair: Pair = { client, upstream, held: { up: [], down: [] }, ended: { up: false, down: false } };
    pairs.add(pair);
    client.on('data', (c: Buffer) => onData(pair, 'up', c));
    upstream.on('data', (c: Buffer) => onData(pair, 'down', c));
    client.on('end', () => onEnd(pair, 'up'));
    upstream.on('end', () => onEnd(pair, 'down'));
    const drop = (): void => {
      pairs.delete(pair);
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    // An error or close on one side tears the pair down (held bytes are lost, as on a real broken path).
    client.on('error', drop);
    upstream.on('error', () => {
      pairs.delete(pair);
      if (!client.destroyed) client.resetAndDestroy();
      if (!upstream.destroyed) upstream.destroy();
    });
    client.on('close', drop);
    upstream.on('close', () => {
      if (pair.held.down.length === 0) drop();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get mode() {
      return mode;
    },
    setMode(m) {
      mode = m;
      if (m === 'pass' || m === 'refuse') for (const p of pairs) flush(p);
      if (m === 'blackhole') for (const p of pairs) p.held.up.length = p.held.down.length = 0;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    resetAll() {
      const n = pairs.size;
      for (const p of [...pairs]) {
        pairs.delete(p);
        if (!p.client.destroyed) p.client.resetAndDestroy();
        if (!p.upstream.destroyed) p.upstream.destroy();
      }
      return n;
    },
    counts: () => ({ accepted, open: pairs.size, refused }),
    async close() {
      for (const p of [...pairs]) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
