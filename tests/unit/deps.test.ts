/**
 * `npm ci --omit=dev && npm start` / `npm run sim` must work after a build: every package the runtime source imports
 * (handler/, sim/, scripts/demo.ts) is in package.json `dependencies`. Read with the TypeScript parser, so that
 * type-only imports (`import type`, `import { type X }`, `import('x').T`) are told apart from runtime ones.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/root.js';

const RUNTIME_SOURCES = ['handler', 'sim', 'scripts/demo.ts'];

function sourceFiles(rel: string): string[] {
  const abs = path.join(ROOT, rel);
  if (rel.endsWith('.ts')) return [abs];
  return readdirSync(abs, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** The module specifiers a file imports at runtime (static imports and re-exports that are not type-only, dynamic `import()`). */
export function runtimeImports(fileName: string, text: string): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = clause?.isTypeOnly || (clause && !clause.name && named && named.length > 0 && named.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      if (!node.isTypeOnly && !(named && named.length > 0 && named.every((e) => e.isTypeOnly))) out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) out.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`, `name/sub` → `name`); null for relative paths and builtins. */
export function packageOf(spec: string): string | null {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) return null;
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return builtinModules.includes(name) ? null : name;
}

describe('runtime dependencies', () => {
  it('reads runtime and type-only imports apart', () => {
    const text = [
      "import a from 'pkg-a';",
      "import type { B } from 'pkg-b';",
      "import { type C, type D } from 'pkg-c';",
      "import { type E, f } from 'pkg-e';",
      "export { g } from '@scope/pkg-g/sub';",
      "export type { H } from 'pkg-h';",
      "import 'pkg-side-effect';",
      "const m = await import('pkg-dynamic');",
      "type T = import('pkg-type').T;",
      "import { x } from './local.js';",
      "import { readFileSync } from 'node:fs';",
      "import { join } from 'path';",
    ].join('\n');
    const pkgs = runtimeImports('x.ts', text).map(packageOf).filter((p) => p !== null);
    expect(pkgs).toEqual(['pkg-a', 'pkg-e', '@scope/pkg-g', 'pkg-side-effect', 'pkg-dynamic']);
  });

  it('every package imported at runtime by handler/, sim/ and scripts/demo.ts is in dependencies', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const deps = new Set(Object.keys(pkg.dependencies ?? {}));
    const missing: string[] = [];
    let files = 0;
    for (const file of RUNTIME_SOURCES.flatMap(sourceFiles)) {
      files++;
      for (const spec of runtimeImports(file, readFileSync(file, 'utf8'))) {
        const name = packageOf(spec);
        if (name !== null && !deps.has(name)) missing.push(`${path.relative(ROOT, file)}: ${spec}`);
      }
    }
    expect(files).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });
});
