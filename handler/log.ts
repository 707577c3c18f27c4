/**
 * Logging as RunPod's console reads it: the levels, the level setting and the lines of runpod-python 1.12's
 * `RunPodLogger` (`runpod/serverless/modules/rp_logger.py`, tag v1.12.0). Line text: `log-line.ts`.
 *
 * - When `RUNPOD_ENDPOINT_ID` is set (on the platform) every line is one JSON object
 *   `{"requestId": …, "message": …, "level": …}`, in that key order (rp_logger.py line 102).
 * - Otherwise lines are human-readable: `INFO   | <job id> | <message>` (job part only when a job id is given).
 * - Inside {@link withBatchId} (a job that carries a `batchId`), messages start with `[batchId=<id>] `
 *   (rp_logger.py lines 89–90).
 *
 * Levels are RunPod's: `NOTSET` (prints nothing), `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, case-insensitive,
 * or their index 0–5. `WARNING` is not a level (rp_logger.py `LOG_LEVELS`, line 19) and is refused.
 * Secrets are redacted from every line (this worker's rule; runpod-python has none).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { batchPrefix, jsonLine, plainLine, truncateMessage } from './log-line.js';

export { LOG_TRUNCATE_AT, truncateMessage } from './log-line.js';

/** RunPod's log levels in increasing severity (rp_logger.py v1.12.0 `LOG_LEVELS`, line 19). */
export const RUNPOD_LOG_LEVELS = ['NOTSET', 'TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type RunpodLogLevel = (typeof RUNPOD_LOG_LEVELS)[number];

/**
 * Parses a RunPod log level: a name (any case, as `_validate_log_level` upper-cases it, rp_logger.py lines 37–43)
 * or an index 0–5 (its integer branch, lines 45–49; accepted here as a string too).
 * @throws Error naming the value and the allowed levels when it is none of them.
 */
export function parseLogLevel(value: string): RunpodLogLevel {
  const v = value.trim().toUpperCase();
  if (/^[0-5]$/.test(v)) return RUNPOD_LOG_LEVELS[Number(v)]!;
  const found = RUNPOD_LOG_LEVELS.find((l) => l === v);
  if (!found) {
    throw new Error(`invalid log level ${JSON.stringify(value)}: allowed ${RUNPOD_LOG_LEVELS.join(', ')} or 0-5`);
  }
  return found;
}

/**
 * The log level in force, with runpod-python 1.12's precedence:
 *
 * 1. `--rp_log_level`, when given and non-empty (`runpod/serverless/__init__.py` `_set_config_args`, v1.12.0
 *    lines 106–108: `if config["rp_args"]["rp_log_level"]: log.set_level(...)`);
 * 2. else `RUNPOD_LOG_LEVEL`, when set;
 * 3. else `RUNPOD_DEBUG_LEVEL`, when set;
 * 4. else `DEBUG`
 *
 * (2–4: `os.environ.get("RUNPOD_LOG_LEVEL", os.environ.get("RUNPOD_DEBUG_LEVEL", "DEBUG"))`, rp_logger.py v1.12.0
 * lines 58–62). As there, the environment's value is checked even when the flag overrides it (runpod-python checks
 * it when the module loads), and a variable set to an empty string counts as set (so it is refused).
 * @throws Error whose message starts with the flag or variable at fault, e.g. `RUNPOD_LOG_LEVEL: invalid log level …`.
 */
export function resolveLogLevel(flag: string | undefined, runpodLogLevel: string | undefined, runpodDebugLevel: string | undefined): RunpodLogLevel {
  const [source, raw] =
    runpodLogLevel !== undefined
      ? ['RUNPOD_LOG_LEVEL', runpodLogLevel]
      : runpodDebugLevel !== undefined
        ? ['RUNPOD_DEBUG_LEVEL', runpodDebugLevel]
        : ['default', 'DEBUG'];
  const fromEnv = named(source, raw);
  return flag ? named('--rp_log_level', flag) : fromEnv;
}

function named(source: string, value: string): RunpodLogLevel {
  try {
    return parseLogLevel(value);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
}

const batchScope = new AsyncLocalStorage<unknown>();

/**
 * Runs `fn` (and everything it starts) as the handling of a job with batch id `batchId`: every line logged meanwhile,
 * with or without a job id, starts with `[batchId=<id>] ` — as runpod-python 1.12 sets a context variable from
 * `job.get("batchId")` around `JobScaler.handle_job` (rp_scale.py v1.12.0 lines 345 and 371) and prefixes each
 * message logged under it (rp_logger.py lines 89–90). A missing or empty id adds nothing.
 */
export function withBatchId<T>(batchId: unknown, fn: () => T): T {
  // No id and no enclosing scope: nothing to prefix. Skipping `run` keeps Node 20's AsyncLocalStorage (promise hooks
  // on every promise once enabled) out of a worker whose jobs carry no batch id.
  if ((batchId === undefined || batchId === null || batchId === '') && batchScope.getStore() === undefined) return fn();
  return batchScope.run(batchId, fn);
}

/** Options of {@link createLogger}. */
export interface LogOptions {
  /** Minimum level printed. */
  level: RunpodLogLevel;
  /** JSON lines (`RUNPOD_ENDPOINT_ID` set) or human-readable lines. */
  json: boolean;
  /** Where lines go; default `process.stdout`. */
  out?: NodeJS.WritableStream;
  /** Secret values (API keys, passwords) replaced by `[REDACTED]` wherever they appear in a message or field. */
  secrets?: readonly string[];
}

/**
 * The project's logger: RunPod's levels, an optional job id (`requestId`) per line, extra fields (JSON lines only,
 * after runpod-python's three keys).
 */
export interface Log {
  trace(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
  debug(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
  info(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
  warn(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
  error(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
}

/**
 * Returns a function that hides secrets in text: every given secret value (ignoring empty and very short ones,
 * which would blank ordinary words) and the userinfo of any URL (`scheme://user:pass@host` →
 * `scheme://[REDACTED]@host`) become `[REDACTED]`.
 */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const values = [...new Set(secrets.filter((v) => v.length >= 4))].sort((a, b) => b.length - a.length);
  return (text: string): string => {
    let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1[REDACTED]@');
    for (const v of values) if (out.includes(v)) out = out.split(v).join('[REDACTED]');
    return out;
  };
}

type LevelName = Exclude<RunpodLogLevel, 'NOTSET'>;

/**
 * Creates a {@link Log} writing RunPod-format lines (see the module comment). A line is printed when its level is
 * at or above `opts.level`; `NOTSET` prints nothing (rp_logger.py v1.12.0 lines 81–86). Each line is written at once
 * (runpod-python prints with `flush=True`).
 */
export function createLogger(opts: LogOptions): Log {
  const out = opts.out ?? process.stdout;
  const redact = redactor(opts.secrets ?? []);
  const min = RUNPOD_LOG_LEVELS.indexOf(opts.level);
  const at =
    (level: LevelName) =>
    (message: string, requestId?: string | null, extra?: Record<string, unknown>): void => {
      if (opts.level === 'NOTSET' || RUNPOD_LOG_LEVELS.indexOf(level) < min) return;
      // Redact, then prefix, then truncate: the prefix counts towards the 4096 characters, as in rp_logger.py.
      const text = truncateMessage(batchPrefix(batchScope.getStore()) + redact(String(message)));
      const id = requestId === undefined || requestId === null ? null : redact(requestId);
      let line: string;
      if (opts.json) {
        const fields = extra ? (JSON.parse(redact(JSON.stringify(extra))) as Record<string, unknown>) : undefined;
        line = jsonLine(level, id, text, fields);
      } else {
        line = plainLine(level, id, text);
      }
      out.write(`${line}\n`);
    };
  return { trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

/** A logger that prints nothing (for embedding and tests that do not read logs). */
export const silentLog: Log = createLogger({ level: 'NOTSET', json: true });
