/**
 * examples/dino-fashion-mnist.ts run as a user runs it (tsx child process):
 * `--quick` trains and prints the three k-NN figures; a bad flag stops it
 * before any work. Timings and accuracies are never asserted (4 steps learn
 * nothing); only that the figures are printed and are percentages.
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
    execFile(tsx, [join(root, 'examples', 'dino-fashion-mnist.ts'), ...args], { cwd: root, timeout: 110_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('examples/dino-fashion-mnist.ts', () => {
  it('rejects a bad flag before any work, naming the flag and the value', async () => {
    const r = await run(['--method', 'simclr']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--method must be one of dino, mocov3, got 'simclr'");
    expect(r.stdout).not.toContain('k-NN');
  });

  // One backend is enough for a child process; wasm is the example's default.
  it.skipIf(tf.getBackend() !== 'wasm')('--quick trains DINO and prints the pretrained, initial and pixel k-NN accuracies', async () => {
    const r = await run(['--quick', '--backend', 'wasm']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^DINO \(K=64, 4 crops\) on wasm/m);
    expect(r.stdout).toMatch(/^step 4\/4 {2}loss \d+\.\d{4}/m);
    for (const label of ['pretrained encoder \\(class token\\)', 'same encoder at initialisation', 'raw pixels']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${label} +\\d+\\.\\d%$`, 'm'));
    }
  });
});
