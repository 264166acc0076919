/**
 * examples/clip-shapes.ts as a user runs it (child process through tsx,
 * `--quick`, on its default wasm backend): it must print the zero-shot table
 * for the untrained model, CLIP and FLIP, and FLIP's per-step timings with
 * speed-up ratios. Timings and accuracies are not asserted. Runs only in the
 * wasm project (tfjs's plain-JS cpu backend is too slow even for --quick on a
 * loaded machine, as for the MAE demo).
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tsx, [join(root, 'examples', 'clip-shapes.ts'), ...args], { cwd: root, timeout: 110_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe.runIf(tf.getBackend() === 'wasm')('examples/clip-shapes.ts', () => {
  it('--quick prints zero-shot accuracies and FLIP speed-ups', async () => {
    const r = await run(['--quick', '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    const PCT = '\\s*(\\d+\\.\\d)%';
    for (const name of ['untrained', 'CLIP', 'FLIP \\(mask 0.5\\)']) {
      expect(r.stdout).toMatch(new RegExp(`^${name}\\s+\\|${PCT}${PCT}${PCT}${PCT}\\s+\\|${PCT}`, 'm'));
    }
    for (const m of ['0.00', '0.50', '0.75']) expect(r.stdout).toMatch(new RegExp(`mask ${m}: \\d+ ms/step  speed-up x\\d+\\.\\d\\d`));
  }, 120_000);

  it('a bad flag stops it before any work, naming the flag and the value', async () => {
    const r = await run(['--batch', '64']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--batch must be <= 48 \(the distinct training captions\), got 64/);
  }, 60_000);
});
