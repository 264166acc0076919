import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The library must run on whichever tfjs backend the user picks, so `src/`
 * imports only tfjs-core and tfjs-layers (never a backend, tfjs-node, or the
 * `@tensorflow/tfjs` union package), relative modules, and Node builtins
 * through a dynamic `import('node:...')` (so browsers and bundlers never load
 * them unless that code path runs).
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ALLOWED_PACKAGES = new Set(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers']);

interface ImportSite {
  specifier: string;
  /** `type`: erased at compile time (`import type`, `typeof import('x')`). */
  kind: 'static' | 'dynamic' | 'require' | 'type';
  line: number;
}

/** Every module specifier a TypeScript source names, with how it is loaded. */
function importsOf(fileName: string, source: string): ImportSite[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: ImportSite[] = [];
  // `const specifier = 'node:fs'; import(specifier)`: resolve such constants.
  const constants = new Map<string, string>();
  const collect = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && ts.isStringLiteralLike(node.initializer)) {
      constants.set(node.name.text, node.initializer.text);
    }
    ts.forEachChild(node, collect);
  };
  collect(sf);
  const add = (node: ts.Node, spec: ts.Expression | undefined, kind: ImportSite['kind']): void => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    if (spec && ts.isStringLiteralLike(spec)) {
      out.push({ specifier: spec.text, kind, line });
    } else if (spec && ts.isIdentifier(spec) && constants.has(spec.text)) {
      out.push({ specifier: constants.get(spec.text)!, kind, line });
    } else if (spec) {
      out.push({ specifier: `<computed: ${spec.getText(sf)}>`, kind, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ? 'type' : 'static');
    else if (ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, node.isTypeOnly ? 'type' : 'static');
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, 'require');
    } else if (ts.isCallExpression(node)) {
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0], 'dynamic');
      else if (ts.isIdentifier(node.expression) && node.expression.text === 'require') add(node, node.arguments[0], 'require');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, 'type');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Why an import site is not allowed in `src/`, or null if it is fine. */
function violation(site: ImportSite): string | null {
  const s = site.specifier;
  if (s.startsWith('./') || s.startsWith('../')) return site.kind === 'require' ? 'require() in ESM source' : null;
  if (s.startsWith('node:')) {
    return site.kind === 'dynamic' || site.kind === 'type' ? null : 'Node builtins only through a dynamic import()';
  }
  if (ALLOWED_PACKAGES.has(s)) return site.kind === 'require' ? 'require() in ESM source' : null;
  if (/^@tensorflow\/tfjs-backend-|^@tensorflow\/tfjs-node/.test(s)) return 'imports a tfjs backend';
  if (s === '@tensorflow/tfjs') return 'imports the @tensorflow/tfjs union package (it registers backends)';
  if (s.startsWith('@tensorflow/tfjs-core/') || s.startsWith('@tensorflow/tfjs-layers/')) {
    return 'deep import into a tfjs package (not loadable under plain Node ESM)';
  }
  return 'not tfjs-core, tfjs-layers, a relative path or a node: builtin';
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|cts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
  });
}

describe('src/ is backend-agnostic', () => {
  it('imports only tfjs-core, tfjs-layers, relative modules and dynamic node: builtins', () => {
    const files = sourceFiles(join(root, 'src'));
    expect(files.length).toBeGreaterThan(5);
    const problems: string[] = [];
    let sites = 0;
    for (const f of files) {
      for (const site of importsOf(f, readFileSync(f, 'utf8'))) {
        sites++;
        const why = violation(site);
        if (why) problems.push(`${relative(root, f)}:${site.line}: '${site.specifier}' (${site.kind}): ${why}`);
      }
    }
    expect(sites).toBeGreaterThan(files.length);
    expect(problems).toEqual([]);
  });

  it('the checker itself catches each kind of violation', () => {
    const src = [
      "import * as tf from '@tensorflow/tfjs-core';",
      "import { layers } from '@tensorflow/tfjs-layers';",
      "import { x } from './x.js';",
      "export * from '../y/index.js';",
      "import '@tensorflow/tfjs-backend-wasm';",
      "import * as full from '@tensorflow/tfjs';",
      "import { readFile } from 'node:fs/promises';",
      "const fs = await import('node:fs');",
      "const g = require('@tensorflow/tfjs-node');",
      "export { a } from '@tensorflow/tfjs-backend-cpu';",
      "import type { Foo } from 'some-package';",
      "import { r } from '@tensorflow/tfjs-core/dist/register_all_gradients';",
      "const m = await import(name);",
      "const spec = 'node:path'; const p = await import(spec);",
      "let t: typeof import('node:fs/promises');",
      "import fs from 'node:fs';",
    ].join('\n');
    const bad = importsOf('probe.ts', src)
      .filter((s) => violation(s) !== null)
      .map((s) => s.line);
    expect(bad).toEqual([5, 6, 7, 9, 10, 11, 12, 13, 16]);
  });
});
