/**
 * The worker panel: the endpoint's `/health` (workers by state, jobs queued, running, done) and the A1111 backends
 * the worker uses (`POST /admin/servers`), refreshed every {@link PANEL_REFRESH_MS}.
 */
import { ApiError, type EndpointApi } from './api.js';
import { byId, el } from './view.js';

/** Refresh period of the panel, ms. */
export const PANEL_REFRESH_MS = 3000;

/** Draws the panel now and then every {@link PANEL_REFRESH_MS}. */
export function startPanel(api: EndpointApi): { refresh(): Promise<void> } {
  const dot = byId('health-dot');
  const summary = byId('health-summary');
  const workers = byId('health-workers');
  const jobs = byId('health-jobs');
  const backends = byId('backends');

  const refresh = async (): Promise<void> => {
    try {
      const h = await api.health();
      const w = h.workers;
      const up = (w.ready ?? 0) + (w.running ?? 0) + (w.idle ?? 0);
      const unhealthy = w.unhealthy ?? 0;
      dot.className = `dot ${up > 0 && unhealthy === 0 ? 'ok' : up > 0 ? 'warn' : 'down'}`;
      summary.textContent = up > 0 ? `worker ${w.running ? 'running a job' : 'ready'}` : (w.initializing ?? 0) > 0 ? 'worker starting…' : 'no worker seen';
      workers.textContent = Object.entries(w)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ') || 'none';
      jobs.textContent = `${h.jobs.inQueue} queued, ${h.jobs.inProgress} running, ${h.jobs.completed} completed, ${h.jobs.failed} failed`;
    } catch (e) {
      dot.className = 'dot down';
      summary.textContent = e instanceof ApiError && e.status === 401 ? 'API key needed' : 'endpoint unreachable';
    }
    try {
      const list = await api.backends();
      if (list === undefined) backends.replaceChildren(el('li', 'muted', 'admin API not served'));
      else if (list.length === 0) backends.replaceChildren(el('li', 'muted', 'none registered'));
      else backends.replaceChildren(...list.map((u) => el('li', '', u)));
    } catch {
      backends.replaceChildren(el('li', 'muted', 'unknown'));
    }
  };
  void refresh();
  setInterval(() => void refresh(), PANEL_REFRESH_MS);
  return { refresh };
}
