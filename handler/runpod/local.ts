/**
 * Local one-shot mode (docs/runpod-protocol.md, "Local one-shot run"): run one job from `--test_input` or `./test_input.json`,
 * print the result body as one JSON line on stdout, exit 1 when it carries an error.
 */
import { readFile } from 'node:fs/promises';
import type { Log } from '../log.js';
import { RawJson, resultFromError, resultFromOutput, serializeResult, type WorkerIdentity } from './result.js';
import type { Handler, HandlerContext, Job, ResultBody } from './types.js';

/** Outcome of a local run. */
export interface LocalOutcome {
  /** The result body, as it would be posted to job-done. */
  body: ResultBody;
  /** `body` serialised (UTF-8 JSON). */
  bytes: Buffer;
  /** 0 on success, 1 when the job has no input or its result has an error. */
  exitCode: number;
}

/**
 * Runs one local job. `raw` is the parsed test input: an object with `input` (required, non-null) and
 * optionally `id` (default `local_test`) and any other job keys.
 * Progress updates and stream chunks are logged, not sent (there is no platform).
 */
export async function runLocalJob(raw: unknown, handler: Handler, log: Log, identity: WorkerIdentity): Promise<LocalOutcome> {
  const obj = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  if (obj === null || obj.input === undefined || obj.input === null) {
    log.error('Job has no input parameter. Unable to run.');
    const body: ResultBody = { error: 'Job has no input parameter. Unable to run.' };
    return { body, bytes: serializeResult(body), exitCode: 1 };
  }
  const job: Job = { ...obj, id: typeof obj.id === 'string' && obj.id ? obj.id : 'local_test', input: obj.input };
  log.info('Started.', job.id);
  const ctx: HandlerContext = {
    signal: new AbortController().signal,
    progress: (output) => log.debug(`Progress: ${JSON.stringify(output)}`, job.id),
    stream: async (output) => log.debug(`Stream chunk: ${JSON.stringify(output).slice(0, 200)}`, job.id),
    rawJson: (bytes) => new RawJson(bytes),
    refreshWorker: () => void (refresh = true),
  };
  let refresh = false;
  let body: ResultBody;
  try {
    body = resultFromOutput(await handler(job, ctx));
  } catch (e) {
    body = resultFromError(e, identity);
    log.error(`Captured Handler Exception: ${String(body.error)}`, job.id);
  }
  // refresh_worker (per job or REFRESH_WORKER): the body shows the `stopPod` the platform would get.
  if (refresh) body.stopPod = true;
  let bytes: Buffer;
  try {
    bytes = serializeResult(body);
  } catch (e) {
    body = { error: `handler output is not JSON-serialisable: ${(e as Error).message}` };
    bytes = serializeResult(body);
  }
  if (body.error !== undefined) {
    log.error(`Job ${job.id} failed with error: ${typeof body.error === 'string' ? body.error : JSON.stringify(body.error)}`, job.id);
    return { body, bytes, exitCode: 1 };
  }
  log.info(`Job ${job.id} completed successfully.`, job.id);
  return { body, bytes, exitCode: 0 };
}

/**
 * Reads the local job: the `--test_input` flag's JSON wins over `./test_input.json` (runpod-python `rp_local.py`).
 * @returns the parsed job, or null when neither exists
 * @throws SyntaxError when `./test_input.json` is not JSON (logged first)
 */
export async function readTestInput(flag: string | undefined, log: Log): Promise<unknown> {
  if (flag !== undefined) return JSON.parse(flag);
  let text: string;
  try {
    text = await readFile('test_input.json', 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    log.error(`test_input.json is not valid JSON: ${(e as Error).message}`);
    throw e;
  }
}
