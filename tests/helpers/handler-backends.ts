/**
 * The real servers a job-handler test needs: a simulator for the jobs' own A1111 calls, and a second one
 * (same catalog) that the name check reads A1111's lists from, so the first one's request log holds only the
 * calls a job makes. The request model (`GET /openapi.json`) is read from the second one too and cached under the
 * first one's URL: handlers given `models` never read it from the first. Name checking itself is tested in
 * names.test.ts.
 */
import { A1111Client } from '../../handler/a1111/client.js';
import { A1111Lists } from '../../handler/a1111/lists.js';
import { ServerModels } from '../../handler/a1111/server-models.js';
import { silentLog } from '../../handler/log.js';
import { startSimulator, type Simulator } from '../../sim/server.js';
import { a1111Config } from './fixtures.js';

/** The started backends; `close()` stops both simulators. */
export interface HandlerBackends {
  sim: Simulator;
  client: A1111Client;
  lists: A1111Lists;
  /** The request model of `sim`, read from the second simulator. */
  models: ServerModels;
  close(): Promise<void>;
}

/** Starts both simulators (port 0, no step time) and the clients on them. */
export async function startHandlerBackends(): Promise<HandlerBackends> {
  const sim = await startSimulator({ port: 0, stepMs: 0 });
  const listsSim = await startSimulator({ port: 0, stepMs: 0 });
  const listsClient = new A1111Client(a1111Config({ url: listsSim.url }), silentLog);
  const models = new ServerModels(silentLog);
  await models.of({ url: sim.url, client: listsClient });
  return {
    sim,
    client: new A1111Client(a1111Config({ url: sim.url, readyTimeoutMs: 5000, requestTimeoutMs: 30_000 }), silentLog),
    lists: new A1111Lists(listsClient, silentLog),
    models,
    async close() {
      await sim.close();
      await listsSim.close();
    },
  };
}
