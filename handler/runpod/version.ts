/**
 * Version strings of this runtime.
 */
import os from 'node:os';

/** This worker runtime's version, sent as `runpod_version` in pings and error bodies (spec §5.4, §9.2). */
export const RUNTIME_VERSION = '0.1.0';

/**
 * The User-Agent of platform requests, shaped like RunPod's (spec §3.1):
 * `RunPod-Node-Worker/<v> (<OS> <release>; <arch>) Language/Node <version>[ Integration/<name>]`.
 */
export function userAgent(integration?: string): string {
  const base = `RunPod-Node-Worker/${RUNTIME_VERSION} (${os.type()} ${os.release()}; ${os.arch()}) Language/Node ${process.versions.node}`;
  return integration ? `${base} Integration/${integration}` : base;
}
