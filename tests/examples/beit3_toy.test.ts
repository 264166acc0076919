/**
 * examples/beit3-toy.ts run as a user runs it (tsx child process), tiny: it
 * must print the held-out accuracies before and after training, with their
 * baselines, and exit 0. Runs in the wasm project only (the example's default
 * backend; the cpu backend is much slower). Figures are never asserted.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

describe.runIf(tf.getBackend() === 'wasm')('examples/beit3-toy.ts', () => {
  it('trains a few steps and prints masked-token accuracies with their baselines', async () => {
    const args = ['--steps', '2', '--batch', '8', '--train-size', '64', '--eval-size', '16', '--backend', 'wasm'];
    const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(tsx, [join(root, 'examples', 'beit3-toy.ts'), ...args], { cwd: root, timeout: 240_000 }, (err, stdout) =>
        resolve({ code: err === null ? 0 : 1, stdout }),
      );
    });
    expect(r.code).toBe(0);
    const line = /held-out masked visual tokens \d+\.\d% \(most frequent token \d+\.\d%; on the other tokens \d+\.\d%, chance \d+\.\d%\), masked words \d+\.\d% \(most frequent word \d+\.\d%\), attribute words \d+\.\d% \(chance 25\.0%; with another image \d+\.\d%\)/;
    expect(r.stdout).toMatch(new RegExp(`before training: ${line.source}`));
    expect(r.stdout).toMatch(new RegExp(`after 2 steps \\(.*\\): ${line.source}`));
    expect(r.stdout).toMatch(/step 2\/2 {2}image loss \d/);
  }, 300_000);
});
