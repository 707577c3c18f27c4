/**
 * RunPod's URL templates and their substitution (docs/runpod-protocol.md: "Process entry and mode selection", "Job acquisition (job-take)", "Result reporting (job-done)", "Per-job stop channel (job-stop, since 1.10.0)", "Heartbeat / ping").
 */

/** Replaces every occurrence of `token` by `value`, literally (no `$&`/`$1` interpretation; docs/runpod-protocol.md, "Process entry and mode selection" note). */
export function replaceAllLiteral(template: string, token: string, value: string): string {
  return template.split(token).join(value);
}

/**
 * Appends `key=value` pairs to a URL the way RunPod's SDK does: with `&` when the URL already has a `?`
 * (production templates carry `?gpu=…`), otherwise starting a query with `?` (the SDK would produce a malformed
 * URL there, docs/runpod-protocol.md, "Process entry and mode selection" quirk; we fix it).
 */
export function appendQuery(url: string, params: ReadonlyArray<readonly [string, string]>): string {
  if (params.length === 0) return url;
  const q = params.map(([k, v]) => `${k}=${v}`).join('&');
  return url.includes('?') ? `${url}&${q}` : `${url}?${q}`;
}

/** The templates as the platform injects them (`RUNPOD_WEBHOOK_*`). */
export interface UrlTemplates {
  getJob: string | undefined;
  postOutput: string | undefined;
  postStream: string | undefined;
  ping: string | undefined;
}

/** The worker's resolved URLs. */
export interface WorkerUrls {
  /**
   * Job-take URL with `&job_in_progress=0|1` (docs/runpod-protocol.md, "Job acquisition (job-take)"): the single `/job-take/` form for one job; for
   * `batchSize` > 1, `/job-take-batch/` with `&batch_size=N&job_in_progress=…` (batch_size first).
   */
  jobTake(jobInProgress: boolean, batchSize?: number): string;
  /** Job-stop URL (`/job-take/` → `/job-stop/`, template query kept, docs/runpod-protocol.md, "Per-job stop channel (job-stop, since 1.10.0)"), or null when not derivable. */
  jobStop: string | null;
  /** Job-done URL for a job, with `&isStream=true|false` (docs/runpod-protocol.md, "Result reporting (job-done)"). */
  jobDone(jobId: string, isStream: boolean): string;
  /** Job-stream URL for a job; always `&isStream=false` (docs/runpod-protocol.md, "Streaming (generator handlers)"; Q4 of "Quirks to decide on (faithful vs. fixed)", kept). */
  jobStream(jobId: string): string;
  /** Ping URL with `$RUNPOD_POD_ID` substituted, or null when `RUNPOD_WEBHOOK_PING` is unset. */
  ping: string | null;
}

/**
 * Resolves the templates for one worker id, once at start-up (docs/runpod-protocol.md, "Process entry and mode selection").
 * Both `$RUNPOD_POD_ID` and `$ID` are replaced everywhere they occur: `$RUNPOD_POD_ID` first (→ worker id),
 * then `$ID` (→ worker id in job-take and ping, → job id per request in job-done/job-stream).
 * Unset job-done/job-stream templates become the SDK's literal `JOB_DONE_URL` / `JOB_STREAM_URL`, which fail
 * when used (the failure is logged, docs/runpod-protocol.md, "What happens when variables are absent").
 */
export function resolveUrls(t: UrlTemplates, workerId: string): WorkerUrls {
  const pod = (s: string): string => replaceAllLiteral(s, '$RUNPOD_POD_ID', workerId);
  const take = t.getJob === undefined ? null : replaceAllLiteral(pod(t.getJob), '$ID', workerId);
  const done = pod(t.postOutput ?? 'JOB_DONE_URL');
  const stream = pod(t.postStream ?? 'JOB_STREAM_URL');
  // The templates are split once and the per-job URLs joined from the pieces: these are built on every job-take and
  // job-done (work per job that can be done once, issue 15).
  const perJob = (tpl: string): ((jobId: string, isStream: boolean) => string) => {
    const pieces = tpl.split('$ID');
    const query = (isStream: boolean): string => appendQuery(tpl, [['isStream', String(isStream)]]).slice(tpl.length);
    const tail = { true: query(true), false: query(false) };
    return (jobId, isStream) => pieces.join(jobId) + tail[`${isStream}`];
  };
  const doneUrl = perJob(done);
  const streamUrl = perJob(stream);
  const takeOne = take === null ? null : { true: appendQuery(take, [['job_in_progress', '1']]), false: appendQuery(take, [['job_in_progress', '0']]) };
  return {
    jobTake(jobInProgress: boolean, batchSize = 1): string {
      if (take === null || takeOne === null) throw new Error('RUNPOD_WEBHOOK_GET_JOB is not set');
      const inProgress: [string, string] = ['job_in_progress', jobInProgress ? '1' : '0'];
      if (batchSize <= 1) return takeOne[`${jobInProgress}`];
      // More than one job: `/job-take/` → `/job-take-batch/`, `batch_size` first (docs/runpod-protocol.md, "Job acquisition (job-take)").
      return appendQuery(take.replace('/job-take/', '/job-take-batch/'), [['batch_size', String(batchSize)], inProgress]);
    },
    jobStop: take !== null && take.includes('/job-take/') ? take.replace('/job-take/', '/job-stop/') : null,
    jobDone: doneUrl,
    jobStream: (jobId) => streamUrl(jobId, false),
    ping: t.ping === undefined ? null : resolvePingUrl(t.ping, workerId),
  };
}

/**
 * The ping URL for one worker id: `$RUNPOD_POD_ID` then `$ID` replaced by it, everywhere (docs/runpod-protocol.md, "Process entry and mode selection"). The heartbeat and
 * the unhealthy report use the same URL (runpod-python: `rp_ping.py` and `rp_fitness.py` `_report_unhealthy` both
 * replace `$RUNPOD_POD_ID` in `RUNPOD_WEBHOOK_PING` by the worker id).
 */
export function resolvePingUrl(template: string, workerId: string): string {
  return replaceAllLiteral(replaceAllLiteral(template, '$RUNPOD_POD_ID', workerId), '$ID', workerId);
}

/**
 * A query value encoded as Python's `urllib.parse.quote_plus` (what `requests` applies to `params`): everything but
 * letters, digits and `_.-~` is %-escaped (UTF-8), a space becomes `+` (`,` → `%2C`, `/` → `%2F`, `:` → `%3A`).
 */
export function quotePlus(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * The heartbeat URL: the ping URL plus `job_id` (comma-joined ids, omitted when none) and `runpod_version`,
 * values encoded like Python's `quote_plus` (`,` → `%2C`, space → `+`) (docs/runpod-protocol.md, "Heartbeat / ping").
 */
export function heartbeatUrl(ping: string, jobIds: readonly string[], version: string): string {
  const params: Array<[string, string]> = [];
  if (jobIds.length > 0) params.push(['job_id', quotePlus(jobIds.join(','))]);
  params.push(['runpod_version', quotePlus(version)]);
  return appendQuery(ping, params);
}

/** Longest `reason` of an unhealthy report, in characters (runpod-python `rp_fitness.py`: `reason[:256]`). */
export const UNHEALTHY_REASON_MAX = 256;

/**
 * The unhealthy-report URL (docs/runpod-protocol.md, 'Fitness checks and the "unhealthy" ping'): the ping URL plus, in this order, `status=unhealthy`, `check=<name>`,
 * `reason=<text, cut to 256 characters>` and `runpod_version=<v>`, values `quote_plus`-encoded. Source:
 * runpod-python `runpod/serverless/modules/rp_fitness.py` `_report_unhealthy` (since v1.11.0, #537), whose
 * `params` dict is `{"status": "unhealthy", "check": check, "reason": reason[:256], "runpod_version": …}`, sent
 * by `requests` (`&`-appended when the URL has a `?`). The cut counts code points, as Python's slice does.
 */
export function unhealthyUrl(ping: string, check: string, reason: string, version: string): string {
  const cut = Array.from(reason).slice(0, UNHEALTHY_REASON_MAX).join('');
  return appendQuery(ping, [
    ['status', 'unhealthy'],
    ['check', quotePlus(check)],
    ['reason', quotePlus(cut)],
    ['runpod_version', quotePlus(version)],
  ]);
}
