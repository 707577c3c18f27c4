/**
 * The worker's named states and the transitions between them, each one logged and told to listeners
 * (named states as pg-boss's worker has them: created → active → stopping → stopped).
 *
 * ```
 * starting ──→ ready ──→ running ──→ draining ──→ stopped
 *    │  └───────┴──────────────────────↗            ↑
 *    └──────────────────────────────────────────────┘ (a start-up check failed)
 * ```
 * - `starting`: start-up checks, heartbeat started, waiting for the backend (`ready()`: readiness, warm-up);
 * - `ready`: the backend is ready; the job-take loop is about to start;
 * - `running`: taking and running jobs;
 * - `draining`: stop asked for (signal, fatal error): no more job-takes; running jobs finish and post their results;
 * - `stopped`: everything is released; the exit code is known.
 */
import type { Log } from '../../log.js';

/** A state of the worker's life. */
export type WorkerState = 'starting' | 'ready' | 'running' | 'draining' | 'stopped';

/** One transition, as listeners get it. */
export interface StateChange {
  /** The state left (null for the first, `starting`). */
  from: WorkerState | null;
  to: WorkerState;
  /** Why, when there is more to say than the state's name (a stop reason, the fatal error's message). */
  reason?: string;
  /** With `stopped`: the process exit code (0 done or drained, 1 fatal). */
  exitCode?: number;
  /** With `stopped` after a fatal end: the error. */
  cause?: Error;
}

/** Which state may follow which. */
const NEXT: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  starting: ['ready', 'draining', 'stopped'],
  ready: ['running', 'draining'],
  running: ['draining'],
  draining: ['stopped'],
  stopped: [],
};

/** The current state, its transitions and their listeners. */
export class WorkerStates {
  private current: WorkerState | null = null;
  private readonly listeners = new Set<(change: StateChange) => void>();

  constructor(private readonly log: Log) {}

  /** The state now (`starting` from creation on). */
  get state(): WorkerState {
    return this.current ?? 'starting';
  }

  /** Calls `fn` on every transition from now on; returns the unsubscribe function. */
  listen(fn: (change: StateChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Moves to `to`, logs it and tells the listeners (a listener that throws is logged, not rethrown).
   * @throws Error for a transition the diagram does not have (a bug in the lifecycle)
   */
  to(to: WorkerState, details: Omit<StateChange, 'from' | 'to'> = {}): void {
    const from = this.current;
    if (from !== null && !NEXT[from].includes(to)) throw new Error(`worker state ${from} cannot become ${to}`);
    this.current = to;
    this.log.info(`Worker state: ${from === null ? '' : `${from} → `}${to}${details.reason ? ` (${details.reason})` : ''}.`);
    const change: StateChange = { from, to, ...details };
    for (const fn of this.listeners) {
      try {
        fn(change);
      } catch (e) {
        this.log.error(`A worker state listener failed: ${(e as Error).message}`);
      }
    }
  }
}
