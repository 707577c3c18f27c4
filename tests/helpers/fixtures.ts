/**
 * Shared test fixtures: seed 004's request (kept in `test_input.json`) and loopback helpers.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT } from './root.js';

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
