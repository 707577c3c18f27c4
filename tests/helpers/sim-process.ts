/**
 * The A1111 simulator as a real child process (`dist/sim/main.js`), with its HTTP control routes:
 * `GET /sim/requests?since=i` (request log) and `POST /sim/faults` (fault injection).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './root.js';

const root = ROOT;

/** One request the simulator saw. */
export interface SimLogRecord {
  method: string;
  path: string;
  body: unknown;
  status: number;
  receivedAt: number;
  respondedAt: number;
}

/** A running simulator process. */
export interface SimProcess {
  url: string;
  child: ChildProcess;
  requests(since?: number): Promise<SimLogRecord[]>;
  fault(f: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** Starts `node dist/sim/main.js --port 0 …args` and waits for its "Uvicorn running on" line. */
export async function startSimProcess(args: string[] = []): Promise<SimProcess> {
  const child = spawn(process.execPath, [path.join(root, 'dist/sim/main.js'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /Uvicorn running on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`simulator exited (${code})`)));
  });
  child.stdout!.resume();
  return {
    url,
    child,
    async requests(since = 0) {
      const r = await fetch(`${url}/sim/requests?since=${since}`);
      return (await r.json()) as SimLogRecord[];
    },
    async fault(f) {
      const r = await fetch(`${url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
      if (!r.ok) throw new Error(`fault refused: ${r.status} ${await r.text()}`);
    },
    async close() {
      // Already gone (exited, or killed by a signal such as a test's SIGKILL).
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
