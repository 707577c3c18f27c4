/**
 * The repository root, found by walking up to `package.json`: right both from TypeScript source (vitest) and
 * from the compiled copy under `dist/` (the benchmark).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json')) || path.basename(dir) === 'dist') {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${start}`);
    dir = up;
  }
  return dir;
}

/** Absolute path of the repository root. */
export const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
