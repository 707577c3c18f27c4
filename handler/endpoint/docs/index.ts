/**
 * API docs of the local endpoint: an OpenAPI description of RunPod's public endpoint API as the emulator implements
 * it, and the interactive page at `/docs`. (Being built for issue 16.)
 */
import type { FastifyInstance } from 'fastify';

/** What the docs describe beyond the routes themselves. */
export interface ApiDocsOptions {
  /**
   * JSON Schemas of the job `input`: the envelope and each route's request model, keyed by a name used in the
   * description. Given by the caller (main.ts), so that the endpoint does not import the handler's schemas.
   */
  inputSchemas?: Record<string, object>;
}

/** Registers the docs routes on `app` (before it listens). */
export async function registerApiDocs(app: FastifyInstance, opts: ApiDocsOptions & { endpointId: string; apiKey?: string }): Promise<void> {
  void app;
  void opts;
}
