/**
 * The local RunPod endpoint emulator (protocol spec §14.5): the platform's public queue API and the worker
 * protocol on one loopback server. See `server.ts`; sd-proxy-server's admin API for development in `admin.ts`.
 */
export { ENDPOINT_DEFAULTS, startEndpoint, type EndpointOptions, type LocalEndpoint } from './server.js';
export { ADMIN_BODY_LIMIT_BYTES, parseServerUrl, serialiseServerUrl, type BackendRegistry, type ParsedServerUrl } from './admin.js';
export type { HealthBody, JobStatus, StatusBody } from './jobs.js';
export {
  DONE_FAULT_KINDS,
  TAKE_FAULT_KINDS,
  type DoneFaultKind,
  type EndpointFaultOptions,
  type EndpointStats,
  type TakeFaultKind,
} from './faults.js';
