/**
 * The playground page at `/` of the local endpoint. (Being built for issue 16.)
 */
import type { FastifyInstance } from 'fastify';

/** Registers the playground's routes on `app` (before it listens). */
export async function registerPlayground(app: FastifyInstance, opts: { endpointId: string; apiKey?: string }): Promise<void> {
  void app;
  void opts;
}
