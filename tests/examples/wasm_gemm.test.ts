/**
 * examples/wasm-gemm (the GEMM of our own behind docs/performance.md's
 * "A GEMM of our own"): built with clang-16 and run with `--quick` on small
 * odd shapes (edge tiles, several K blocks), every variant must reproduce
 * tf.matMul. Needs Debian's `clang-16` and `lld-16`; without them (CI does
 * not install them) it is skipped. Timings are not asserted.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const hasClang = spawnSync('clang-16', ['--version']).status === 0 && spawnSync('wasm-ld-16', ['--version']).status === 0;

describe.runIf(tf.getBackend() === 'wasm' && hasClang)('examples/wasm-gemm/gemm-bench.ts', () => {
  it('--quick: all four builds run and match tf.matMul on odd shapes', () => {
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', join('examples', 'wasm-gemm', 'gemm-bench.ts'), '--quick'], {
      cwd: root, encoding: 'utf8', timeout: 110_000,
    });
    expect(r.status, r.stderr.slice(0, 2000)).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\d+ x \d+ x \d+ \|/.test(l));
    expect(rows.map((l) => l.split(' |')[0])).toEqual(['1 x 1 x 1', '7 x 300 x 13', '70 x 9 x 530', '13 x 600 x 8']);
    for (const row of rows) {
      const diffs = [...row.matchAll(/max diff ([0-9.e+-]+)\)/g)].map((m) => Number(m[1]));
      expect(diffs, row).toHaveLength(4);
      for (const d of diffs) expect(d, row).toBeLessThan(1e-3);
    }
  }, 120_000);
});
