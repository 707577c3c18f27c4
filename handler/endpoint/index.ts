/**
 * The local RunPod endpoint emulator (docs/runpod-protocol.md, "What this project's `--rp_serve_api` does
 * instead"): the platform's public queue API and the worker protocol on one loopback server. See `server.ts`;
 * sd-proxy-server's admin API for development in `admin.ts`.
 */
export { ENDPOINT_DEFAULTS, startEndpoint, type EndpointOptions, type LocalEndpoint } from './server.js';
export { ADMIN_BODY_LIMIT_BYTES, parseServerUrl, serialiseServerUrl, type BackendRegistry, type ParsedServerUrl } from './admin.js';
export type { HealthBody, JobStatus, StatusBody } from './jobs.js';
export type { WorkerApiRecord } from './recorder.js';
export {
  DONE_FAULT_KINDS,
  TAKE_FAULT_KINDS,
  type DoneFaultKind,
  type EndpointFaultOptions,
  type EndpointStats,
  type ScriptedAnswer,
  type ScriptedFault,
  type TakeFaultKind,
  type WorkerRoute,
} from './faults.js';
