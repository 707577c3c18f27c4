/**
 * The soak (`npm run soak`, scripts/soak.ts) in its short form, inside `npm test`: 150 jobs through the emulator,
 * the worker and the simulator (as processes) with ≥ 10 % of A1111 calls, job-takes and job-dones faulted at
 * random, and the same assertions as the full run but for the RSS trend, which needs 2 × 200 jobs.
 *
 * Seed 11 draws a single job-take 429 in this run (the worker pauses 5 s after each), which keeps it short.
 */
import { describe, expect, it } from 'vitest';
import { formatReport, parseSoakArgs, runSoak } from '../../scripts/soak.js';

describe('soak, short form', () => {
  it('150 jobs with seeded faults on every link: each job final exactly once, images decode, nothing lost or duplicated', async () => {
    const report = await runSoak({ jobs: 150, seed: 11 });
    const text = formatReport(report);
    expect(report.failures, text).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.completed + report.failed).toBe(150);
    expect(report.lost).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.timedOut).toBe(0);
    expect(report.completed).toBeGreaterThan(100);
    expect(report.images.decoded).toBeGreaterThanOrEqual(report.completed);
    expect(report.images.bad).toBe(0);
    // Every fault kind was injected at least once, and each one failed nothing it should not have.
    for (const [k, n] of Object.entries(report.faults.a1111.byKind)) expect(n, `A1111 ${k}`).toBeGreaterThan(0);
    for (const [k, n] of Object.entries(report.faults.take.byKind)) expect(n, `job-take ${k}`).toBeGreaterThan(0);
    for (const [k, n] of Object.entries(report.faults.done.byKind)) expect(n, `job-done ${k}`).toBeGreaterThan(0);
    expect(report.failed).toBe(report.faults.a1111.onGeneration);
    expect(report.worker).toEqual({ exitCode: 0, jobsTaken: 150, completed: report.completed, failed: report.failed, resultsLost: 0 });
    expect(report.rss.samples).toBe(150);
    expect(report.rss.ratio).not.toBeNull();
    expect(report.rss.checked).toBe(false);
    expect(text).toMatch(/lost 0, duplicated 0/);
    expect(text).toMatch(/\nPASS$/);
  }, 90_000);

  it('reads its options from flags and env, and refuses bad ones', () => {
    expect(parseSoakArgs(['--jobs', '200', '--seed=9', '--fault-rate', '0.2', '--take-fault-rate', '0.3', '--no-rss-check'], { SOAK_JOBS: '5' })).toEqual({
      jobs: 200,
      seed: 9,
      faultRate: 0.2,
      takeFaultRate: 0.3,
      checkRss: false,
    });
    expect(parseSoakArgs([], { SOAK_JOBS: '50', SOAK_FAULT_RATE: '0.1' })).toEqual({ jobs: 50, faultRate: 0.1 });
    expect(() => parseSoakArgs(['--fault-rate', '2'], {})).toThrow(/--fault-rate: expected a number from 0 to 1/);
    expect(() => parseSoakArgs(['--jobs', 'many'], {})).toThrow(/--jobs: expected a non-negative integer/);
    expect(() => parseSoakArgs(['--fast'], {})).toThrow(/unknown flag "--fast"/);
  });
});
