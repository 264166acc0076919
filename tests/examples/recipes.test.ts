import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Smoke test of the recipes in examples/recipes/: each runs as a child
 * process (tsx) for 3 steps on the WASM backend, on a small training subset,
 * and must exit 0 after printing finite held-out losses before and after
 * training and a finite training loss. The recipes pick their own backend,
 * so this file runs only in the vitest `cpu` project (once per suite run).
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const ONCE = process.env.MIMKIT_BACKEND === 'cpu';

/** Recipes (file names under examples/recipes/) and extra flags for a variant worth covering. */
const RECIPES: [string, string[]][] = [
  ['mae', []],
  ['vit-masked-patch-prediction', []],
  ['beit', []],
  ['simmim', []],
  ['igpt', []],
  ['clip-flip', []],
  ['clip-flip', ['--mask', '0.5']],
  ['moco-v3', ['--frozen-patch-embed']],
  ['dino', []],
  ['beit3', []],
  ['tinymim', ['--teacher-steps', '3']],
];

function runRecipe(name: string, args: string[]) {
  return spawnSync(TSX, [join('examples', 'recipes', `${name}.ts`), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

const NUM = '(-?\\d+\\.\\d+|NaN|-?Infinity)';

describe.runIf(ONCE)('recipes (3 steps each on wasm)', () => {
  for (const [name, extra] of RECIPES) {
    it(`${[name, ...extra].join(' ')} trains and prints finite losses`, () => {
      const r = runRecipe(name, ['--steps', '3', '--backend', 'wasm', '--train-size', '256', ...extra]);
      expect(r.stderr.split('\n').filter((l) => /Error|error:/.test(l))).toEqual([]);
      expect(r.status).toBe(0);
      // `<name>: ...` or `<name> (variant): ...`
      const summary = new RegExp(`^${name}(?: \\([^)]*\\))?: held-out loss ${NUM} -> ${NUM} \\(3 steps, wasm, `, 'm').exec(r.stdout);
      expect(summary, r.stdout).not.toBeNull();
      const [start, end] = [Number(summary![1]), Number(summary![2])];
      expect(Number.isFinite(start) && start > 0).toBe(true);
      expect(Number.isFinite(end) && end > 0).toBe(true);
      const last = new RegExp(`^step 3/3  train loss ${NUM}`, 'm').exec(r.stdout);
      expect(last, r.stdout).not.toBeNull();
      expect(Number.isFinite(Number(last![1]))).toBe(true);
    });
  }

  it('a bad flag stops a recipe before any work, naming the flag, the value and what was expected', () => {
    const r = runRecipe('mae', ['--backend', 'gpu']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("--backend must be 'cpu' or 'wasm', got 'gpu'");
    expect(r.stdout).not.toContain('held-out loss');
    const s = runRecipe('mae', ['--steps', '2.5']);
    expect(s.status).not.toBe(0);
    expect(s.stderr).toContain("--steps must be a non-negative integer, got '2.5'");
  });
});
