import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../../examples/lib/fashion-mnist.js';
import { runMocoV3 } from '../../examples/lib/moco-v3-run.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ONCE = process.env.MIMKIT_BACKEND === 'cpu';

describe('SSL examples', () => {
  it('runMocoV3 pretrains a few steps and returns the base encoder, tensors flat', async () => {
    const train = await loadFashionMnist('train', { pad: 32, limit: 16 });
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const r = runMocoV3({ train, steps: 2, batch: 4, config: { embedDim: 16, depth: 1, numHeads: 2, mlpDim: 16, dim: 8 }, log: (l) => lines.push(l) });
    expect(r.losses.length).toBe(2);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(r.tensorsFlat).toBe(true);
    expect(r.encoder).toBe(r.model.baseEncoder.vit);
    expect(lines.at(-1)).toMatch(/^moco-v3 step 2\/2 {2}loss \d+\.\d{4}/);
    const x = tf.zeros([2, 32, 32, 1]);
    const y = r.encoder.forward(x);
    expect(y.shape).toEqual([2, 65, 16]);
    tf.dispose([x, y]);
    r.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => runMocoV3({ train, steps: 0 })).toThrow(/steps must be a positive integer, got 0/);
  });

  it.runIf(ONCE)('tinymim-distill --quick prints the k-NN comparison', () => {
    const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), ['examples/tinymim-distill.ts', '--quick'], {
      cwd: ROOT, encoding: 'utf8', timeout: 240_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/student distilled \d+\.\d% vs student MAE-pretrained \d+\.\d%/);
    expect(r.stdout).toMatch(/tensors flat/);
  }, 300_000);
});
