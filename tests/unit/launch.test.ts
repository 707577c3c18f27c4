import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { WORKER_MALLOC_ENV, WORKER_NODE_FLAGS, withWorkerMallocEnv } from '../../handler/runpod/worker/launch.js';

describe('the worker launch settings', () => {
  it('WORKER_NODE_FLAGS are flags this Node accepts, and they set the heap sizes they name', () => {
    // A flag this Node did not know would stop the worker from starting at all (docker/start.sh runs it with them).
    const script = `const v8 = require('node:v8');
      const junk = []; for (let i = 0; i < 200000; i++) junk.push({ i }); // young-generation churn
      const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      console.log(JSON.stringify({ newSpaceMB: space.space_size / 1048576, n: junk.length }));`;
    const out = JSON.parse(execFileSync(process.execPath, [...WORKER_NODE_FLAGS, '-e', script], { encoding: 'utf8' })) as { newSpaceMB: number };
    const semi = Number(/^--max-semi-space-size=(\d+)$/.exec(WORKER_NODE_FLAGS.find((f) => f.startsWith('--max-semi-space-size=')) ?? '')?.[1]);
    expect(semi).toBeGreaterThan(0);
    // The young generation: two semi-spaces of at most `semi` MB each (V8's default grows to 2 × 16 MB).
    expect(out.newSpaceMB).toBeLessThanOrEqual(2 * semi);
    expect(WORKER_NODE_FLAGS).toContain('--initial-old-space-size=64');
  });

  it('WORKER_MALLOC_ENV: glibc names with byte counts; a value the caller sets wins, its env is not changed', () => {
    expect(Object.keys(WORKER_MALLOC_ENV).sort()).toEqual(['MALLOC_ARENA_MAX', 'MALLOC_TRIM_THRESHOLD_']);
    expect(WORKER_MALLOC_ENV.MALLOC_ARENA_MAX).toBe('1');
    // Above RunPod's 20 MB /runsync result, so that a large answer's freed reads stay for the next one.
    expect(Number(WORKER_MALLOC_ENV.MALLOC_TRIM_THRESHOLD_)).toBeGreaterThan(20 * 1000 * 1000);
    const env = { PATH: '/bin', MALLOC_ARENA_MAX: '4' };
    expect(withWorkerMallocEnv(env)).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX: '4', MALLOC_TRIM_THRESHOLD_: WORKER_MALLOC_ENV.MALLOC_TRIM_THRESHOLD_ });
    expect(env).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX: '4' });
  });

  it('this Node starts and runs with WORKER_MALLOC_ENV and WORKER_NODE_FLAGS together', () => {
    const out = execFileSync(process.execPath, [...WORKER_NODE_FLAGS, '-e', 'console.log(Buffer.alloc(25 << 20, 1).length)'], { encoding: 'utf8', env: withWorkerMallocEnv({ PATH: process.env.PATH }) });
    expect(out.trim()).toBe(String(25 << 20));
  });
});
