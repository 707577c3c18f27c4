/**
 * Version strings of this worker.
 *
 * Two versions, two meanings:
 * - {@link RUNPOD_VERSION}: the version of RunPod's worker protocol this runtime implements, i.e. the runpod-python
 *   release whose wire behaviour it follows (docs/runpod-protocol.md, "Sources, versions, legend": runpod-python
 *   v1.12.0, commit 07fc6e2b). runpod-python sends its own package version as `runpod_version` on every ping
 *   (`runpod/serverless/modules/rp_ping.py`: `ping_params = {"job_id": …, "runpod_version": runpod_version}`), on
 *   the unhealthy report (`rp_fitness.py` `_report_unhealthy`) and in handler-error bodies (`rp_job.py`), from
 *   `runpod/version.py` (`importlib.metadata.version("runpod")`). The platform therefore reads `runpod_version` as an
 *   SDK version; a Node worker reporting its own `0.1.0` would look like a pre-1.0 Python SDK (from before the
 *   job-stop channel of 1.10.0 and the unhealthy report of 1.11.0). So this worker reports the protocol it speaks.
 * - {@link WORKER_VERSION}: this package's own version (`package.json` `version`; a unit test keeps them equal),
 *   sent in the User-Agent and printed at start-up.
 */
import os from 'node:os';

/** The runpod-python release whose protocol this runtime implements; sent as `runpod_version` (docs/runpod-protocol.md: "Handler exception → body", "Heartbeat / ping", 'Fitness checks and the "unhealthy" ping'). */
export const RUNPOD_VERSION = '1.12.0';

/** This package's version (`package.json`), for the User-Agent and the start-up log. */
export const WORKER_VERSION = '0.1.0';

/** This package's name (`package.json`), the User-Agent's product. */
export const WORKER_NAME = 'runpod-worker-a1111-ts';

/**
 * The User-Agent of platform requests, shaped like RunPod's (docs/runpod-protocol.md, "aiohttp session (job-take, job-done, job-stream, job-stop, progress)": `RunPod-Python-SDK/<v> (<OS> <release>;
 * <arch>) Language/Python <v>`), with this package as the product:
 * `runpod-worker-a1111-ts/<WORKER_VERSION> (<OS> <release>; <arch>) Language/Node <version>[ Integration/<name>]`.
 */
export function userAgent(integration?: string): string {
  const base = `${WORKER_NAME}/${WORKER_VERSION} (${os.type()} ${os.release()}; ${os.arch()}) Language/Node ${process.versions.node}`;
  return integration ? `${base} Integration/${integration}` : base;
}
