/**
 * .github/workflows/image.yml, read with a YAML parser (no GitHub runner here): on a `v*` tag, the unit tests on
 * Node 20 first, then every docker-bake.hcl target built with Buildx and pushed to GHCR; every action pinned.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/root.js';
import { parseBakeHcl } from '../helpers/hcl.js';

const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  'runs-on': string;
  needs?: string | string[];
  permissions?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
  steps: Step[];
}
interface Workflow {
  name: string;
  on: { push?: { tags?: string[]; branches?: string[] } } & Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const wf = parse(read('.github/workflows/image.yml')) as Workflow;
const bake = parseBakeHcl(read('docker-bake.hcl')) as unknown as { group: { default: { targets: string[] } } };
const allSteps = Object.values(wf.jobs).flatMap((j) => j.steps);
const uses = (job: Job, action: string): Step | undefined => job.steps.find((s) => s.uses?.split('@')[0] === action);
const needs = (job: Job): string[] => (job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs]);

describe('.github/workflows/image.yml', () => {
  it('runs on a pushed v* tag only, read-only by default', () => {
    expect(Object.keys(wf.on)).toEqual(['push']);
    expect(wf.on.push?.tags).toEqual(['v*']);
    expect(wf.on.push?.branches).toBeUndefined();
    expect(wf.permissions).toEqual({ contents: 'read' });
  });

  it('pins every action to a full commit', () => {
    const actions = allSteps.filter((s) => s.uses !== undefined);
    expect(actions.length).toBeGreaterThanOrEqual(5);
    for (const s of actions) expect(s.uses, s.uses).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
    // The tag each commit stands for is written beside it.
    for (const m of read('.github/workflows/image.yml').matchAll(/uses: \S+@[0-9a-f]{40}(.*)$/gm)) expect(m[1]).toMatch(/^ # v\d+\.\d+\.\d+$/);
  });

  it('a test job: Node 20, npm ci, then the unit tests', () => {
    const t = Object.values(wf.jobs).find((j) => uses(j, 'actions/setup-node'));
    expect(t).toBeDefined();
    expect(needs(t!)).toEqual([]);
    expect(uses(t!, 'actions/checkout')).toBeDefined();
    expect(String(uses(t!, 'actions/setup-node')!.with?.['node-version'])).toBe('20');
    const runs = t!.steps.map((s) => s.run ?? '');
    const ci = runs.findIndex((r) => /^npm ci\b/m.test(r));
    const test = runs.findIndex((r) => /\bnpm test\b|\bvitest run tests\/unit\b/.test(r));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(test).toBeGreaterThan(ci);
  });

  it('an image job after the tests: Buildx, GHCR login with GITHUB_TOKEN, bake of every docker-bake.hcl target, pushed', () => {
    const entries = Object.entries(wf.jobs);
    const [testName] = entries.find(([, j]) => uses(j, 'actions/setup-node'))!;
    const img = entries.find(([, j]) => uses(j, 'docker/bake-action'))?.[1];
    expect(img).toBeDefined();
    expect(needs(img!)).toContain(testName);
    expect(img!.permissions).toMatchObject({ packages: 'write', contents: 'read' });
    const order = ['docker/setup-buildx-action', 'docker/login-action', 'docker/bake-action'].map((a) => img!.steps.findIndex((s) => s.uses?.split('@')[0] === a));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const login = uses(img!, 'docker/login-action')!.with!;
    expect(login.registry).toBe('ghcr.io');
    expect(login.username).toBe('${{ github.actor }}');
    expect(login.password).toBe('${{ secrets.GITHUB_TOKEN }}');
    const b = uses(img!, 'docker/bake-action')!.with!;
    expect(b.files).toBe('docker-bake.hcl');
    expect(existsSync(path.join(ROOT, b.files as string))).toBe(true);
    expect(b.push).toBe(true);
    // One job per target (a hosted runner's disk holds one ~15 GB image at a time): the matrix lists the default group.
    expect(b.targets).toBe('${{ matrix.target }}');
    expect(img!.strategy?.matrix?.target).toEqual(bake.group.default.targets);
  });

  it('sets the bake variables IMAGE (lower-case owner/repo) and VERSION (the tag without v)', () => {
    const img = Object.values(wf.jobs).find((j) => uses(j, 'docker/bake-action'))!;
    const run = img.steps.map((s) => s.run ?? '').join('\n');
    expect(run).toContain('echo "IMAGE=${GITHUB_REPOSITORY,,}" >> "$GITHUB_ENV"');
    expect(run).toContain('echo "VERSION=${GITHUB_REF_NAME#v}" >> "$GITHUB_ENV"');
  });
});
