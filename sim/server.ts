/**
 * The A1111 API simulator: an HTTP server that looks like AUTOMATIC1111 v1.10 started with `--api --nowebui` to a
 * client that has never seen it (docs/a1111-api.md), plus test controls (fault injection, request log) under
 * `/sim/`, a prefix A1111 does not use. The server itself is `app.ts`; its routes are in `routes/`.
 */
import { createServer, type Socket } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { createApp } from './app.js';
import { Catalog, parseFiles, type CatalogInput, type SimFiles } from './catalog.js';
import { SIM_EXTENSIONS, type SimEnv, type SimExtension } from './env.js';
import { FaultPlan, type SimFault, type SimFaultStats, type SimRandomFaults } from './faults.js';
import type { SimRequestRecord } from './http.js';
import type { SimFlavor } from './models.js';
import { buildOpenApi } from './openapi.js';
import { extraOptions } from './options.js';
import { PngCache } from './png.js';
import { buildRoutes } from './routes/index.js';
import { buildScripts } from './scripts.js';
import { QueueLock, SharedState } from './state.js';

export type { SimFiles, SimLora, SimPromptStyle, SimSchedulerInfo } from './catalog.js';
export type { SimExtension } from './env.js';
export { SIM_RANDOM_FAULT_KINDS, parseFault, parseRandomFaults } from './faults.js';
export type { SimFault, SimFaultStats, SimRandomFaultKind, SimRandomFaults } from './faults.js';
export type { SimRequestRecord } from './http.js';
export type { SimFlavor } from './models.js';
export { parseFiles };

/** Options of {@link startSimulator}. All times are in milliseconds; the model/sampler/… lists are {@link CatalogInput}'s. */
export interface SimOptions extends CatalogInput {
  /** interface to bind; default `'127.0.0.1'` */
  host?: string;
  /** TCP port; default 3000; 0 = ephemeral (chosen before the start-up delay, so `url` is known at once) */
  port?: number;
  /** the port opens only after this delay (A1111 "not up yet": connection refused), default 0 */
  startupDelayMs?: number;
  /** simulated time per sampling step, default 2 */
  stepMs?: number;
  /**
   * simulated checkpoint load time, default 0. Paid by the first generation
   * (A1111 loads the model lazily here) and again whenever a job needs a
   * checkpoint other than the one loaded (override_settings / POST /options).
   */
  firstLoadDelayMs?: number;
  /** print one line per `/sdapi` request (like `--api-log`) and model-load lines; default false */
  log?: boolean;
  /** gzip JSON bodies ≥ 1000 bytes when the client accepts it (A1111's GZipMiddleware); default true */
  gzip?: boolean;
  /** seeded random faults on `/sdapi/v1/*` requests (soak tests); default none */
  randomFaults?: SimRandomFaults;
  /**
   * the server imitated: `'a1111'` (v1.10.1, default) or `'forge'` (Forge's extra fields and options,
   * `/sdapi/v1/sd-modules` instead of `sd-vae`, ControlNet built in, pydantic-2 validation, Forge error bodies)
   */
  flavor?: SimFlavor;
  /** extensions installed: `controlnet` (Mikubill), `adetailer` (Bing-su), `wildcards` (A1111's); default none */
  extensions?: SimExtension[];
  /**
   * A1111's `--data-dir` (also its cwd): `GET /sdapi/v1/cmd-flags` reports it and images saved by jobs
   * (`save_images: true`, grids, init images) are written under it (`save-images.ts`); default unset = no files
   */
  dataDir?: string;
}

/** A running simulator. */
export interface Simulator {
  /** base URL without trailing slash, e.g. `http://127.0.0.1:3000` */
  url: string;
  port: number;
  /** every non-`/sim/` request, in arrival order (live array; `DELETE /sim/requests` empties it) */
  requests: SimRequestRecord[];
  /** resolves once the port is open (at once unless `startupDelayMs`); rejects if listening fails */
  ready: Promise<void>;
  /**
   * Queues a fault.
   * @throws TypeError when the fault is malformed
   */
  injectFault(f: SimFault): void;
  /** Counters of requests and faults (injected and random). */
  faultStats(): SimFaultStats;
  /**
   * Puts checkpoints, VAEs or LoRAs into the simulated model folders. Like A1111, the simulator lists them only
   * after `POST /sdapi/v1/refresh-checkpoints` / `refresh-vae` / `refresh-loras` ({@link SimFiles}).
   * @throws TypeError when `files` is malformed
   */
  addFiles(files: SimFiles): void;
  /** Stops listening, ends running generations and drops hanging connections. */
  close(): Promise<void>;
}

function checkNonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`SimOptions.${name} must be a finite number >= 0, got ${String(v)}`);
  return v;
}

async function reservePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts an A1111 API simulator.
 *
 * Resolves once the port is chosen; with `startupDelayMs > 0` that is before
 * the port opens (await `ready` for the open port).
 *
 * @throws RangeError for negative/invalid timing options or a bad port
 * @throws Error when a list option (models, samplers) is empty, or when
 *   listening fails (immediate start only; with a start-up delay `ready` rejects)
 */
export async function startSimulator(opts: SimOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1';
  const requestedPort = opts.port ?? 3000;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new RangeError(`SimOptions.port must be an integer 0..65535, got ${String(opts.port)}`);
  }
  const startupDelayMs = checkNonNegative('startupDelayMs', opts.startupDelayMs, 0);
  const env = buildEnv(opts);
  const faults = new FaultPlan(opts.randomFaults);
  const requests: SimRequestRecord[] = [];
  const hanging = new Set<Socket>();
  let closed = false;
  let port = requestedPort;

  const routes = buildRoutes(env, { port: () => port, host, log: opts.log ?? false });
  // FastAPI's own schema route (not listed in `paths`)
  const openapi = buildOpenApi(env.flavor, routes);
  routes.push({ method: 'get', path: '/openapi.json', name: 'openapi', handler: () => openapi });
  const app = await createApp({ env, routes, faults, requests, hanging, gzip: opts.gzip ?? true, apiLog: opts.log ?? false, isClosed: () => closed });

  let listening = false;
  const listen = async () => {
    await app.listen({ port, host });
    listening = true;
    const addr = app.server.address();
    if (addr && typeof addr === 'object') port = addr.port;
  };
  let startTimer: NodeJS.Timeout | null = null;
  let ready: Promise<void>;
  let rejectReady: ((e: Error) => void) | null = null;
  if (startupDelayMs > 0) {
    if (port === 0) port = await reservePort(host);
    ready = new Promise<void>((resolve, reject) => {
      rejectReady = reject;
      startTimer = setTimeout(() => {
        startTimer = null;
        listen().then(resolve, reject);
      }, startupDelayMs);
    });
    ready.catch(() => undefined);
  } else {
    await listen();
    ready = Promise.resolve();
  }

  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    requests,
    ready,
    injectFault: (f) => faults.inject(f),
    faultStats: () => faults.snapshot(),
    addFiles: (files) => env.catalog.addFiles(parseFiles(files)),
    close: async () => {
      if (closed) return;
      closed = true;
      env.state.closed = true;
      env.state.interrupt();
      if (startTimer) {
        clearTimeout(startTimer);
        startTimer = null;
        rejectReady?.(new Error('simulator closed before it started listening'));
      }
      for (const s of hanging) s.destroy();
      hanging.clear();
      if (listening) await app.close();
    },
  };
}

/**
 * The runtime of one simulator from its options: catalog with the flavor's and extensions' options, state, lock,
 * PNG cache and timing knobs.
 * @throws RangeError for a bad timing option, flavor or extension; Error when a list option is empty
 */
function buildEnv(opts: SimOptions): SimEnv {
  const stepMs = checkNonNegative('stepMs', opts.stepMs, 2);
  const firstLoadDelayMs = checkNonNegative('firstLoadDelayMs', opts.firstLoadDelayMs, 0);
  const log = opts.log ? (line: string) => void process.stdout.write(`${line}\n`) : () => undefined;
  const flavor: SimFlavor = opts.flavor ?? 'a1111';
  if (flavor !== 'a1111' && flavor !== 'forge') throw new RangeError(`SimOptions.flavor must be 'a1111' or 'forge', got ${String(opts.flavor)}`);
  const extensions = new Set<SimExtension>(opts.extensions ?? []);
  for (const x of extensions) if (!SIM_EXTENSIONS.includes(x)) throw new RangeError(`SimOptions.extensions: unknown extension ${String(x)} (allowed: ${SIM_EXTENSIONS.join(', ')})`);
  const catalog = new Catalog(opts);
  Object.assign(catalog.options, extraOptions(flavor, extensions));
  return {
    catalog,
    state: new SharedState(),
    lock: new QueueLock(),
    cache: new PngCache(64, 256 * 1024 * 1024),
    stepMs,
    modelLoadMs: firstLoadDelayMs,
    log,
    flavor,
    extensions,
    scripts: buildScripts(flavor, extensions),
    ...(opts.dataDir ? { dataDir: resolvePath(opts.dataDir) } : {}),
  };
}
