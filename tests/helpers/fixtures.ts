/**
 * Shared test fixtures: seed 004's request (kept in `test_input.json`) and loopback helpers.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT } from './root.js';
import { loadConfig, type A1111Config } from '../../handler/config.js';

const root = ROOT;

/** Seed 004's job (`{input: {api, payload}}`), read from the repo's `test_input.json`. */
export const SEED_004 = JSON.parse(readFileSync(path.join(root, 'test_input.json'), 'utf8')) as {
  input: { api: { method: string; endpoint: string }; payload: Record<string, unknown> };
};

/** A loopback port with nothing listening on it (connections are refused). */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** An A1111 client configuration: the defaults of `loadConfig`, with test overrides. */
export function a1111Config(over: Partial<A1111Config> & { url: string }): A1111Config {
  // No progress polling unless a test asks for it: it would add /progress calls to the simulator's request log.
  return { ...loadConfig([], {}).a1111, readyIntervalMs: 50, progressIntervalMs: 0, ...over };
}
