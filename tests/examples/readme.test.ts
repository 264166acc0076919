/**
 * The README's short example is the file `examples/quickstart.ts` (which the
 * type-check compiles), word for word but for the import path: the two cannot
 * drift apart.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('README', () => {
  it('shows examples/quickstart.ts as its short example', () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    const section = readme.slice(readme.indexOf('## A short example'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    const file = readFileSync(`${ROOT}examples/quickstart.ts`, 'utf8');
    const want = file.split('\n').slice(1).join('\n').replace("from '../src/index.js'", "from 'mimkit'");
    expect(block).toBe(want);
  });

  it('names the two set-up commands', () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm test ');
  });
});
