/**
 * Logging in RunPod's format (protocol spec §12), built on pino.
 *
 * - When `RUNPOD_ENDPOINT_ID` is set (i.e. on the platform) every line is one JSON object
 *   `{"level","requestId","message"}` so the RunPod console can attach it to a request.
 * - Otherwise lines are human-readable: `INFO   | <job id> | <message>` (job part only when a job id is given).
 *
 * Levels are RunPod's: `NOTSET` (prints nothing), `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, case-insensitive,
 * or their index 0–5. `WARNING` is not a level (spec §12) and is refused.
 */
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

/** RunPod's log levels in increasing severity (spec §12). */
export const RUNPOD_LOG_LEVELS = ['NOTSET', 'TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type RunpodLogLevel = (typeof RUNPOD_LOG_LEVELS)[number];

/** Messages longer than this many characters are truncated (spec §12). */
export const LOG_TRUNCATE_AT = 4096;

/**
 * Parses a RunPod log level: a name (any case) or an index 0–5.
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
 * Truncates a message longer than 4096 characters to its first 2048 and last 2048 characters
 * around `\n...TRUNCATED {n} CHARACTERS...\n` (spec §12).
 */
export function truncateMessage(message: string): string {
  if (message.length <= LOG_TRUNCATE_AT) return message;
  const half = LOG_TRUNCATE_AT / 2;
  const cut = message.length - LOG_TRUNCATE_AT;
  return `${message.slice(0, half)}\n...TRUNCATED ${cut} CHARACTERS...\n${message.slice(-half)}`;
}

const PINO_LEVEL: Record<RunpodLogLevel, string> = {
  NOTSET: 'silent',
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

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

/** The project's logger: RunPod's levels, an optional job id (`requestId`) per line, extra fields. */
export interface Log {
  trace(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
  debug(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
  info(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
  warn(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
  error(message: string, requestId?: string | null, extra?: Record<string, unknown>): void;
}

/** A human-readable destination: `LEVEL  | job id | message` per line (spec §12). */
function plainDestination(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string): void {
      try {
        const rec = JSON.parse(line) as { level?: string; requestId?: string | null; message?: string };
        const level = String(rec.level ?? 'INFO').padEnd(7);
        const id = rec.requestId ? `${rec.requestId} | ` : '';
        out.write(`${level}| ${id}${rec.message ?? ''}\n`);
      } catch {
        out.write(line);
      }
    },
  };
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

/** Creates a {@link Log} writing RunPod-format lines (see the module comment). */
export function createLogger(opts: LogOptions): Log {
  const out = opts.out ?? process.stdout;
  const redact = redactor(opts.secrets ?? []);
  const destination: DestinationStream = opts.json ? (out as DestinationStream) : plainDestination(out);
  const p: PinoLogger = pino(
    {
      level: PINO_LEVEL[opts.level],
      base: null,
      timestamp: false,
      messageKey: 'message',
      formatters: { level: (label: string) => ({ level: label.toUpperCase() }) },
    },
    destination,
  );
  const at =
    (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, requestId?: string | null, extra?: Record<string, unknown>): void => {
      if (!p.isLevelEnabled(level)) return;
      const fields = extra ? (JSON.parse(redact(JSON.stringify(extra))) as Record<string, unknown>) : undefined;
      p[level]({ requestId: requestId ?? null, ...fields }, truncateMessage(redact(message)));
    };
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that prints nothing (for embedding and tests that do not read logs). */
export const silentLog: Log = createLogger({ level: 'NOTSET', json: true });
