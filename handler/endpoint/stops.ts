/**
 * The job-stop channel of the local endpoint emulator (docs/runpod-protocol.md, "Per-job stop channel (job-stop,
 * since 1.10.0)"; runpod-python `rp_job.py` `get_stop_signals`): the ids each worker must stop (a cancel, an
 * executionTimeout, a ttl that ran out while it ran the job), and its held job-stop polls.
 */

/** A held job-stop poll: answered once with the ids to stop, or `[]`. */
export interface StopWaiter {
  workerId: string;
  alive(): boolean;
  deliver(ids: string[]): void;
}

interface StopEntry {
  w: StopWaiter;
  timer: NodeJS.Timeout;
}

/** Ids to stop per worker, each delivered once, in order; and the held job-stop polls. */
export class StopSignals {
  private readonly pending = new Map<string, string[]>();
  private readonly held = new Map<string, StopEntry[]>();
  private closed = false;

  /** Puts `id` on the stop list of `workerId` and answers its held poll, if any. */
  add(workerId: string, id: string): void {
    const list = this.pending.get(workerId) ?? [];
    if (!list.includes(id)) list.push(id);
    this.pending.set(workerId, list);
    const waiters = this.held.get(workerId);
    while (waiters && waiters.length > 0) {
      const entry = waiters.shift()!;
      clearTimeout(entry.timer);
      if (!entry.w.alive()) {
        entry.w.deliver([]);
        continue;
      }
      this.pending.delete(workerId);
      entry.w.deliver(list);
      break;
    }
    if (waiters && waiters.length === 0) this.held.delete(workerId);
  }

  /** Takes `id` off the stop list of `workerId` (a stop still pending for an earlier attempt of a re-taken job). */
  drop(workerId: string, id: string): void {
    const list = this.pending.get(workerId);
    if (!list) return;
    const i = list.indexOf(id);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.pending.delete(workerId);
  }

  /**
   * A job-stop poll: answers at once with the ids this worker must stop, else holds up to `holdMs` for one and
   * then answers `[]`. Returns a function that ends the hold early.
   */
  poll(w: StopWaiter, holdMs: number): () => void {
    const pending = this.pending.get(w.workerId);
    if (this.closed || (pending && pending.length > 0)) {
      this.pending.delete(w.workerId);
      w.deliver(pending ?? []);
      return () => undefined;
    }
    const list = this.held.get(w.workerId) ?? [];
    const entry: StopEntry = { w, timer: setTimeout(() => this.end(entry), Math.max(0, holdMs)) };
    list.push(entry);
    this.held.set(w.workerId, list);
    return () => this.end(entry);
  }

  /** Puts stop ids back whose job-stop answer never reached the worker. */
  restore(workerId: string, ids: readonly string[]): void {
    for (const id of ids) this.add(workerId, id);
  }

  /** Answers every held poll with `[]`; later polls are answered at once. */
  close(): void {
    this.closed = true;
    for (const list of this.held.values()) {
      for (const entry of list) {
        clearTimeout(entry.timer);
        entry.w.deliver([]);
      }
    }
    this.held.clear();
  }

  private end(entry: StopEntry): void {
    const list = this.held.get(entry.w.workerId);
    const i = list ? list.indexOf(entry) : -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.held.delete(entry.w.workerId);
    clearTimeout(entry.timer);
    entry.w.deliver([]);
  }
}
