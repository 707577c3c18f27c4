/**
 * Liveness of the local A1111 process (`A1111_PID`, exported by `docker/start.sh`), so that the worker can stop
 * waiting for an A1111 that has exited instead of waiting out `A1111_READY_TIMEOUT_S`.
 */
import { readFileSync } from 'node:fs';

/**
 * The state letter of `/proc/<pid>/stat` (`R`, `S`, `D`, `Z`, `X`, …), or null when it cannot be read
 * (no such process, or no procfs: not Linux).
 */
function procState(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "<pid> (<comm>) <state> …": comm may hold spaces and parentheses, so the state follows the last ')'.
  const close = stat.lastIndexOf(')');
  return close >= 0 ? (stat.slice(close + 2, close + 3) || null) : null;
}

/**
 * Whether process `pid` is still running.
 *
 * `process.kill(pid, 0)` alone is not enough here: `start.sh` launches A1111 and then `exec`s the worker, so A1111
 * is a child of the worker process, which never waits for it. When A1111 exits it stays a zombie (state `Z`),
 * which `kill(pid, 0)` still reports as existing. So on Linux the state in `/proc/<pid>/stat` is read as well:
 * a zombie (`Z`) or dead (`X`) process counts as exited.
 *
 * @param pid a process id (a positive integer)
 * @returns false when the process does not exist (`ESRCH`) or is a zombie; true otherwise (also on `EPERM`: it
 *   exists but belongs to another user)
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: the process exists but is not ours; fall through to the state check.
  }
  const state = procState(pid);
  return state !== 'Z' && state !== 'X';
}
