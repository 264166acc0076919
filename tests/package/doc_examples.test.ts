/**
 * Every `@example` in the library's TSDoc is real code: each block is
 * extracted, its `from 'mimkit'` pointed at src/index.ts, and the whole set
 * type-checked with the project's compiler options (strict). An example that
 * drifts from the API fails here, not in a user's editor.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The ```ts blocks of `@example` tags in `text`, without the ` * ` prefix. */
export function docExamples(text: string): string[] {
  const out: string[] = [];
  const re = /@example\s*\n((?:\s*\*.*\n)*?)\s*\*\s*```ts\s*\n((?:\s*\*.*\n)*?)\s*\*\s*```/g;
  for (const m of text.matchAll(re)) {
    out.push(m[2]!.split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n'));
  }
  return out;
}

describe('@example blocks', () => {
  it('the extractor finds a block', () => {
    expect(docExamples('/**\n * x\n * @example\n * ```ts\n * const a = 1;\n * ```\n */')).toEqual(['const a = 1;\n']);
  });

  // Backend-independent and slow (a whole program): once, in the cpu project.
  it.skipIf(process.env.MIMKIT_BACKEND === 'wasm')('every example type-checks against the library', () => {
    const dir = join(ROOT, 'node_modules', '.cache', 'mimkit-doc-examples');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    const where = new Map<string, string>();
    const index = relative(dir, join(ROOT, 'src', 'index.js')).replace(/\\/g, '/');
    for (const src of sources(join(ROOT, 'src'))) {
      docExamples(readFileSync(src, 'utf8')).forEach((code, i) => {
        const f = join(dir, `${relative(join(ROOT, 'src'), src).replace(/[\\/.]/g, '_')}_${i}.ts`);
        writeFileSync(f, `${code.replace(/from 'mimkit'/g, `from '${index}'`)}\nexport {};\n`);
        files.push(f);
        where.set(f, `${relative(ROOT, src)} example ${i + 1}`);
      });
    }
    expect(files.length).toBeGreaterThanOrEqual(15);
    const cfg = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    const program = ts.createProgram(files, { ...cfg!.options, noEmit: true, noUnusedLocals: false });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.includes(d.file.fileName))
      .map((d) => `${where.get(d.file!.fileName)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(problems).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});
