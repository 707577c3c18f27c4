/**
 * The log level and the log lines of the real worker process (`dist/handler/main.js`, built by `npm test`), read from
 * its output: runpod-python 1.12's precedence (`--rp_log_level`, `RUNPOD_LOG_LEVEL`, `RUNPOD_DEBUG_LEVEL`, `DEBUG`)
 * and its JSON lines `{"requestId": …, "message": …, "level": …}` (rp_logger.py v1.12.0 lines 58–62, 101–103).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { finalPostsOf, resultOf, run, startTestEndpoint, workerEnv } from '../helpers/endpoint-worker.js';
import { until } from '../helpers/wait.js';
import { startWorker } from '../helpers/worker-process.js';

interface JsonLogLine {
  requestId: string | null;
  message: string;
  level: string;
}

/** The JSON log lines of an output (the start banner and anything else that is not a JSON object left out). */
function jsonLines(out: string): string[] {
  return out.split('\n').filter((l) => l.startsWith('{'));
}

/** The human-readable log lines (`LEVEL  | …`) of an output. */
function plainLevels(out: string): string[] {
  return out
    .split('\n')
    .map((l) => /^(NOTSET|TRACE|DEBUG|INFO|WARN|ERROR) *\| /.exec(l)?.[1])
    .filter((l): l is string => l !== undefined);
}

/** A job the worker refuses before calling A1111: it fails, which logs at ERROR. */
const REFUSED = JSON.stringify({ input: { api: { method: 'POST', endpoint: '/sdapi/v1/server-kill' }, payload: {} } });
const TINY = { prompt: 'x', steps: 1, width: 64, height: 64 };

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, stepMs: 1 });
});
afterAll(async () => {
  await sim?.close();
});

describe('local one-shot (--test_input): the level in force, logs on stderr', () => {
  async function run(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; levels: string[]; stderr: string }> {
    const w = startWorker({ A1111_URL: sim.url, ...env }, ['--test_input', REFUSED, ...args]);
    const code = await w.exited;
    return { code, levels: plainLevels(w.stderr()), stderr: w.stderr() };
  }

  it('RUNPOD_LOG_LEVEL=ERROR silences INFO and DEBUG even with RUNPOD_DEBUG_LEVEL=DEBUG; ERROR lines remain', async () => {
    const r = await run({ RUNPOD_LOG_LEVEL: 'ERROR', RUNPOD_DEBUG_LEVEL: 'DEBUG' });
    expect(r.code).toBe(1);
    expect(r.levels.length).toBeGreaterThan(0);
    expect(new Set(r.levels)).toEqual(new Set(['ERROR']));
    expect(r.stderr).toMatch(/^ERROR {2}\| local_test \| Job local_test failed with error: /m);
  });

  it('without RUNPOD_LOG_LEVEL, RUNPOD_DEBUG_LEVEL applies (INFO lines printed, DEBUG not)', async () => {
    const r = await run({ RUNPOD_DEBUG_LEVEL: 'INFO' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^INFO {3}\| local_test \| Started\.$/m);
    expect(r.levels).toContain('ERROR');
    expect(r.levels).not.toContain('DEBUG');
  });

  it('--rp_log_level wins over RUNPOD_LOG_LEVEL', async () => {
    const r = await run({ RUNPOD_LOG_LEVEL: 'ERROR' }, ['--rp_log_level', 'INFO']);
    expect(r.stderr).toMatch(/^INFO {3}\| local_test \| Started\.$/m);
  });

  it('a bad RUNPOD_LOG_LEVEL is a configuration error naming it (exit 2)', async () => {
    const w = startWorker({ A1111_URL: sim.url, RUNPOD_LOG_LEVEL: 'WARNING', RUNPOD_DEBUG_LEVEL: 'INFO' }, ['--test_input', REFUSED]);
    expect(await w.exited).toBe(2);
    expect(w.stderr()).toContain('configuration error: RUNPOD_LOG_LEVEL: invalid log level "WARNING"');
  });
});

describe('platform mode with RUNPOD_ENDPOINT_ID: JSON lines as RunPod reads them, on stdout', () => {
  it('every line is {"requestId", "message", "level"} in that order, spaced as json.dumps; RUNPOD_LOG_LEVEL=INFO beats RUNPOD_DEBUG_LEVEL=ERROR', async () => {
    const ep = await startTestEndpoint({ takeHoldMs: 200 });
    try {
      const w = startWorker(workerEnv(ep, 'w-log-json', { A1111_URL: sim.url, RUNPOD_ENDPOINT_ID: 'ep1', RUNPOD_LOG_LEVEL: 'INFO', RUNPOD_DEBUG_LEVEL: 'ERROR', RESULT_POST_MIN_DELAY_MS: '20' }));
      const id = await run(ep, TINY);
      await resultOf(ep, id);
      // A job of a batch: its lines carry runpod-python 1.12's `[batchId=…] ` prefix. `/run` takes no batch id, so the
      // next job-take is answered by hand (its job-done is then answered 404: the emulator does not know the job).
      ep.injectFault({ route: 'take', answer: { status: 200, contentType: 'application/json', body: JSON.stringify({ id: 'log-b1', input: TINY, batchId: 'batch-7' }) } });
      await until(() => finalPostsOf(ep, 'log-b1')[0], 'the result of the batch job');
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      const lines = jsonLines(w.stdout());
      expect(lines).toContain(`{"requestId": "${id}", "message": "Started.", "level": "INFO"}`);
      expect(lines).toContain(`{"requestId": "${id}", "message": "Finished.", "level": "INFO"}`);
      expect(lines).toContain('{"requestId": "log-b1", "message": "[batchId=batch-7] Started.", "level": "INFO"}');
      expect(lines.filter((l) => l.includes(`"${id}"`)).every((l) => !l.includes('[batchId='))).toBe(true);
      for (const l of lines) {
        expect(Object.keys(JSON.parse(l) as object), l).toEqual(['requestId', 'message', 'level']);
        expect(l, 'json.dumps separators').toMatch(/^\{"requestId": (null|"[^"]*"), "message": ".*", "level": "(TRACE|DEBUG|INFO|WARN|ERROR)"\}$/);
      }
      const levels = new Set(lines.map((l) => (JSON.parse(l) as JsonLogLine).level));
      expect(levels.has('INFO')).toBe(true);
      expect(levels.has('DEBUG')).toBe(false);
      // Lines without a job carry "requestId": null.
      expect(lines.some((l) => l.startsWith('{"requestId": null, '))).toBe(true);
    } finally {
      await ep.close();
    }
  });

  it('RUNPOD_LOG_LEVEL=ERROR: only ERROR lines (a failed job-take), no INFO (jobs run and finish)', async () => {
    const ep = await startTestEndpoint({ takeHoldMs: 200 });
    try {
      ep.injectFault({ route: 'take', answer: { status: 500, body: 'boom' } });
      const w = startWorker(workerEnv(ep, 'w-log-error', { A1111_URL: sim.url, RUNPOD_ENDPOINT_ID: 'ep1', RUNPOD_LOG_LEVEL: 'ERROR', RUNPOD_DEBUG_LEVEL: 'DEBUG', RESULT_POST_MIN_DELAY_MS: '20' }));
      await resultOf(ep, await run(ep, TINY));
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      const lines = jsonLines(w.stdout()).map((l) => JSON.parse(l) as JsonLogLine);
      expect(lines.some((l) => l.level === 'ERROR' && l.message.startsWith('Failed to get job.'))).toBe(true);
      expect(lines.filter((l) => l.level !== 'ERROR')).toEqual([]);
    } finally {
      await ep.close();
    }
  });
});
