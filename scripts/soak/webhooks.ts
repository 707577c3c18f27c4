/**
 * The soak's view of job outcomes: a loopback webhook receiver, and the collector that records each job's first
 * final state (with its image check) and samples the worker's RSS as it arrives.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { checkImages, type JobSpec } from './jobs.js';

/** A final state as the webhook reported it. */
export interface Final {
  status: string;
  error?: unknown;
  /** Problems with the output (COMPLETED only). */
  imageProblems: string[];
  imagesDecoded: number;
}

/** Resident set size of a process in kB (Linux `/proc/<pid>/status` VmRSS), or null when it cannot be read. */
export function rssKb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Megabytes of a kB figure, for the report lines. */
export const mb = (kb: number | null): string => (kb === null ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`);

/** Records webhook deliveries: the first final state of each job, how many deliveries each had, RSS samples. */
export class FinalsCollector {
  /** First final state of each job id, in arrival order. */
  readonly finals = new Map<string, Final>();
  /** Webhook deliveries per job id (more than one = a second final state). */
  readonly hookCount = new Map<string, number>();
  /** Worker RSS (kB), sampled as each job became final. */
  readonly rssKb: number[] = [];
  /** The worker's pid, once started (for the RSS samples). */
  workerPid: number | undefined;
  private waiter: (() => void) | undefined;

  /** @param log progress lines, one per 100 final jobs; @param t0 `performance.now()` at the start of the run */
  constructor(
    private readonly log: (line: string) => void,
    private readonly t0: number,
  ) {}

  /** Takes one webhook body (`/status`-shaped, with the job's `input`). */
  record(body: Record<string, unknown>): void {
    const id = String(body.id);
    this.hookCount.set(id, (this.hookCount.get(id) ?? 0) + 1);
    if (this.finals.has(id)) return;
    const kb = rssKb(this.workerPid);
    if (kb !== null) this.rssKb.push(kb);
    const status = String(body.status);
    let imageProblems: string[] = [];
    let imagesDecoded = 0;
    if (status === 'COMPLETED') {
      // The webhook carries the job's input: the images must match the size and count it asked for.
      const r = checkImages(body.output, body.input as Partial<JobSpec['input']> | undefined);
      imageProblems = r.problems;
      imagesDecoded = r.decoded;
    }
    this.finals.set(id, { status, ...(body.error !== undefined ? { error: body.error } : {}), imageProblems, imagesDecoded });
    if (this.finals.size % 100 === 0) this.log(`  ${this.finals.size} jobs final (${Math.round((performance.now() - this.t0) / 1000)} s, worker RSS ${mb(kb)})`);
    this.wake();
  }

  /** Ends the current {@link waitForChange} early. */
  wake(): void {
    this.waiter?.();
  }

  /** Resolves on the next final state or {@link wake}, or after `ms`. */
  async waitForChange(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.waiter = resolve;
      setTimeout(resolve, ms);
    });
    this.waiter = undefined;
  }
}

/** A loopback server passing each JSON webhook delivery to `onBody` (answers 200; other bodies are ignored). */
export async function startHookReceiver(onBody: (body: Record<string, unknown>) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.statusCode = 200;
      res.end();
      try {
        onBody(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      } catch {
        /* not ours */
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
