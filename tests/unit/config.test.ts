import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseArgs } from '../../handler/config.js';
import { createLogger, parseLogLevel, redactor, truncateMessage } from '../../handler/log.js';
import { Writable } from 'node:stream';

describe('CLI flags (docs/runpod-protocol.md, "Flags (`argparse`, prog `runpod`)")', () => {
  it('parses --flag value and --flag=value, keeps unknown args', () => {
    const { args, rest } = parseArgs(['--rp_serve_api', '--rp_api_port=8080', '--rp_api_host', '0.0.0.0', '--other', '--test_input', '{"input":{}}']);
    expect(args).toEqual({ rp_serve_api: true, rp_api_port: 8080, rp_api_host: '0.0.0.0', test_input: '{"input":{}}' });
    expect(rest).toEqual(['--other']);
    expect(parseArgs(['--x=1', 'pos', '-v', '--rp_debugger', '--', '--rp_serve_api']).rest).toEqual(['--x=1', 'pos', '-v', '--', '--rp_serve_api']);
  });
  it('refuses bad values with the flag named', () => {
    expect(() => parseArgs(['--rp_api_port', 'abc'])).toThrow(/--rp_api_port must be a non-negative integer/);
    expect(() => parseArgs(['--test_input'])).toThrow(/--test_input needs a value/);
    expect(() => parseArgs(['--rp_serve_api=yes'])).toThrow(/--rp_serve_api takes no value/);
    expect(() => loadConfig(['--test_input', '{nope'], {})).toThrow(/--test_input is not valid JSON/);
  });
});

describe('mode selection (docs/runpod-protocol.md, "Process entry and mode selection" step 5) and env', () => {
  const platformEnv = { RUNPOD_WEBHOOK_GET_JOB: 'http://h/job-take/$ID' };
  it('picks serve_api, realtime, local and platform in that order', () => {
    expect(loadConfig(['--rp_serve_api'], { ...platformEnv, RUNPOD_REALTIME_PORT: '9' }).mode).toBe('serve_api');
    expect(loadConfig([], { ...platformEnv, RUNPOD_REALTIME_PORT: '9' }).mode).toBe('realtime');
    expect(loadConfig(['--test_input', '{"input":{}}'], platformEnv).mode).toBe('local');
    expect(loadConfig([], {}).mode).toBe('local');
    expect(loadConfig([], platformEnv).mode).toBe('platform');
  });
  it('defaults', () => {
    const c = loadConfig([], {});
    expect(c.a1111).toEqual({
      url: 'http://127.0.0.1:3000',
      urls: ['http://127.0.0.1:3000'],
      readyTimeoutMs: 360_000,
      readyIntervalMs: 250,
      requestTimeoutMs: 600_000,
      warmup: { prompt: 'warm-up', steps: 1, width: 64, height: 64, batch_size: 1, n_iter: 1, send_images: false, save_images: false },
      progressIntervalMs: 1000,
      previewIntervalMs: 2000,
      maxJobTimeoutMs: 600_000,
      strictNames: false,
    });
    expect(loadConfig([], { A1111_WARMUP: 'false' }).a1111.warmup).toBeNull();
    expect(loadConfig([], { A1111_WARMUP: '{"steps": 2}' }).a1111.warmup).toEqual({ steps: 2 });
    expect(() => loadConfig([], { A1111_WARMUP: '[1]' })).toThrow(/A1111_WARMUP="\[1\]" is invalid/);
    expect(c.limits).toEqual({
      maxImagesPerJob: 16,
      maxInputBytes: 20 * 1024 * 1024,
      maxPixelsPerJob: 16 * 1024 * 1024,
      maxSteps: 150,
      maxHrSteps: 150,
      maxInputImages: 16,
      maxInputImageBytes: 16 * 1024 * 1024,
      maxImageSide: 8192,
      allowImageUrls: false,
      unknownFields: 'refuse',
    });
    expect(loadConfig([], { UNKNOWN_FIELDS: 'warn' }).limits.unknownFields).toBe('warn');
    expect(() => loadConfig([], { UNKNOWN_FIELDS: 'ignore' })).toThrow('UNKNOWN_FIELDS="ignore" is invalid: allowed refuse or warn (default refuse)');
    expect(c.runpod.pingIntervalMs).toBe(10_000);
    expect(c.runpod.podHostname).toBe('unknown');
    expect(c.runpod.workerId).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.resultRetry.retries).toBeGreaterThanOrEqual(6);
    expect(c.logJson).toBe(false);
    expect(c.api).toEqual({ host: '127.0.0.1', port: 8000, concurrency: 1, apiKey: undefined, retentionRunMs: 1_800_000, retentionSyncMs: 60_000, webhookRetryDelayMs: 10_000 });
  });
  it('reads RunPod env vars; clamps the ping interval to 1 s (docs/runpod-protocol.md, "Quirks to decide on (faithful vs. fixed)" Q9)', () => {
    const c = loadConfig([], { RUNPOD_POD_ID: 'w1', RUNPOD_PING_INTERVAL: '500', RUNPOD_ENDPOINT_ID: 'ep', RUNPOD_DEBUG_LEVEL: 'warn' });
    expect(c.runpod.workerId).toBe('w1');
    expect(c.runpod.pingIntervalMs).toBe(1000);
    expect(c.logJson).toBe(true);
    expect(c.logLevel).toBe('WARN');
  });
  it('names the variable, value and allowed range on a bad value', () => {
    expect(() => loadConfig([], { A1111_READY_TIMEOUT_S: 'soon' })).toThrow(ConfigError);
    expect(() => loadConfig([], { A1111_READY_TIMEOUT_S: 'soon' })).toThrow(/A1111_READY_TIMEOUT_S="soon" is invalid: allowed an integer from 1/);
    expect(() => loadConfig([], { A1111_URL: 'ftp://x' })).toThrow(/A1111_URL.*http or https/);
    expect(() => loadConfig([], { ALLOW_IMAGE_URLS: 'maybe' })).toThrow(/ALLOW_IMAGE_URLS="maybe" is invalid: allowed true or false/);
    expect(() => loadConfig([], { A1111_API_AUTH: 'secretword' })).toThrow(/^A1111_API_AUTH is invalid: allowed user:password \(the value is not shown\)$/);
    expect(loadConfig([], { A1111_API_AUTH: 'u:p:w' }).a1111.auth).toEqual({ username: 'u', password: 'p:w' });
    expect(() => loadConfig([], { RUNPOD_DEBUG_LEVEL: 'WARNING' })).toThrow(/^RUNPOD_DEBUG_LEVEL: invalid log level "WARNING"/);
    expect(() => loadConfig(['--rp_log_level', 'loud'], {})).toThrow(ConfigError);
  });
});

describe('log helpers (docs/runpod-protocol.md, "Logging format (stdout)")', () => {
  it('levels by name or index', () => {
    expect(parseLogLevel('info')).toBe('INFO');
    expect(parseLogLevel('5')).toBe('ERROR');
  });
  it('truncates long messages to 2048 + marker + 2048', () => {
    const m = 'a'.repeat(3000) + 'b'.repeat(3000);
    const t = truncateMessage(m);
    expect(t).toBe('a'.repeat(2048) + '\n...TRUNCATED 1904 CHARACTERS...\n' + 'b'.repeat(2048));
    expect(truncateMessage('short')).toBe('short');
  });
});

describe('secrets never reach the logs', () => {
  it('redacts given secret values and URL credentials', () => {
    const r = redactor(['rk_SECRET_1', 'pw', 'hunter2-long']);
    expect(r('key rk_SECRET_1 and hunter2-long; pw stays (too short to redact safely)')).toBe('key [REDACTED] and [REDACTED]; pw stays (too short to redact safely)');
    expect(r('POST to https://bob:s3cret@hooks.example.com/x failed')).toBe('POST to https://[REDACTED]@hooks.example.com/x failed');
    expect(r('user@example.com is not a URL')).toBe('user@example.com is not a URL');
  });
  it('applies to messages and extra fields of every line', () => {
    let out = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
    const log = createLogger({ level: 'TRACE', json: true, out: sink, secrets: ['rk_SECRET_1'] });
    log.error('failed with rk_SECRET_1', 'job-1', { url: 'http://a:b@h/', key: 'rk_SECRET_1' });
    expect(out).not.toContain('rk_SECRET_1');
    expect(out).not.toContain('a:b@');
    expect(JSON.parse(out)).toEqual({ level: 'ERROR', requestId: 'job-1', url: 'http://[REDACTED]@h/', key: '[REDACTED]', message: 'failed with [REDACTED]' });
  });
  it('refuses credentials inside A1111_URL', () => {
    expect(() => loadConfig([], { A1111_URL: 'http://admin:pw@127.0.0.1:3000' })).toThrow(/A1111_URL must not carry credentials/);
  });
  it('A1111_URLS: several backends, each checked, no duplicates, winning over A1111_URL', () => {
    const cfg = loadConfig([], { A1111_URLS: 'http://127.0.0.1:3000, http://127.0.0.1:3001/' });
    expect(cfg.a1111.urls).toEqual(['http://127.0.0.1:3000', 'http://127.0.0.1:3001']);
    expect(cfg.a1111.url).toBe('http://127.0.0.1:3000');
    expect(() => loadConfig([], { A1111_URLS: 'http://127.0.0.1:3000,ftp://x' })).toThrow(/A1111_URLS\[1\]="ftp:\/\/x" must use http or https/);
    expect(() => loadConfig([], { A1111_URLS: 'http://127.0.0.1:3000,http://127.0.0.1:3000' })).toThrow(/A1111_URLS lists "http:\/\/127.0.0.1:3000" twice/);
    // A1111_URLS wins (the Hub form may send A1111_URL's default along).
    expect(loadConfig([], { A1111_URLS: 'http://127.0.0.1:7860,http://127.0.0.1:7861', A1111_URL: 'http://127.0.0.1:3000' }).a1111.urls).toEqual(['http://127.0.0.1:7860', 'http://127.0.0.1:7861']);
    expect(() => loadConfig([], { A1111_URLS: 'http://u:p@127.0.0.1:3000' })).toThrow(/A1111_URLS\[0\] must not carry credentials/);
  });
});
