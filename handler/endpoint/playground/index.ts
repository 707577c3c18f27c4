/**
 * The playground page at `/` of the local endpoint (`--rp_serve_api`): a form that sends A1111 jobs through the
 * endpoint's own public API (`/run`, `/status`, `/stream`, `/cancel`, `/health`), shows their progress, live
 * previews, images and errors, and copies the same request for curl, runpod-sdk and runpod-python.
 *
 * | route | answer |
 * |---|---|
 * | `GET /` | the page (`index.html`) |
 * | `GET /playground/<file>` | its files: `index.html`, `style.css` and the compiled TypeScript (`main.js`, …) |
 * | `GET /playground/config.json` | `{"endpointId": "local", "apiKeyRequired": false}`: what the page needs to call the API |
 *
 * `npm run build` puts every file of the page in `dist/playground/` (tsc with `playground/tsconfig.json`, then a
 * copy of `playground/static/`), so `dist/` alone serves it. The files are served without the API key (they hold
 * no data); every call the page makes to the public API carries the key the user enters when `apiKeyRequired`.
 * When the files are missing (not built), `/` answers 404 with a line saying so, and the API works as before.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Options of {@link registerPlayground}. */
export interface PlaygroundOptions {
  /** The endpoint id the page puts in its URLs (`/v2/<endpointId>/run`). */
  endpointId: string;
  /** The endpoint's API key; only whether it is set reaches the page. */
  apiKey?: string;
}

/** What `GET /playground/config.json` answers. */
export interface PlaygroundConfig {
  endpointId: string;
  /** True when every public route needs `Authorization: Bearer <key>`: the page then asks for the key. */
  apiKeyRequired: boolean;
}

/** URL prefix of the page's files. */
export const PLAYGROUND_PREFIX = '/playground/';

/**
 * The folder the page's files are served from, `<root>/dist/playground`. The root is found from this module:
 * `dist/handler/endpoint/playground/` once built, `handler/endpoint/playground/` when run from source (vitest).
 */
export function playgroundDir(): string {
  const here = fileURLToPath(import.meta.url);
  const root = path.resolve(path.dirname(here), here.endsWith('.js') ? '../../../..' : '../../..');
  return path.join(root, 'dist', 'playground');
}

/** Registers the playground's routes on `app` (before it listens), in their own plugin scope. */
export async function registerPlayground(app: FastifyInstance, opts: PlaygroundOptions): Promise<void> {
  const dir = playgroundDir();
  const config: PlaygroundConfig = { endpointId: opts.endpointId, apiKeyRequired: opts.apiKey !== undefined && opts.apiKey !== '' };
  await app.register(async (scope) => {
    scope.get(`${PLAYGROUND_PREFIX}config.json`, async (_req, reply) => reply.header('cache-control', 'no-store').send(config));
    const missing = ['index.html', 'main.js'].map((f) => path.join(dir, f)).filter((f) => !existsSync(f));
    if (missing.length > 0) {
      const text = `playground not built: ${missing.join(' and ')} missing (npm run build)`;
      scope.get('/', async (_req, reply) => reply.code(404).type('text/plain; charset=utf-8').send(text));
      return;
    }
    // wildcard: false registers one route per file found now, so unknown paths keep the endpoint's 404 answer.
    await scope.register(fastifyStatic, { root: dir, prefix: PLAYGROUND_PREFIX, wildcard: false, index: false, cacheControl: false });
    scope.get('/', async (_req, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html'));
  });
}
