import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW, MAE, maeMicro, trainStep } from '../../src/index.js';
import { sumRows } from '../../src/ops/matmul.js';
import { shareWasmIdentity } from '../../src/ops/wasm_identity.js';

describe('shareWasmIdentity', () => {
  it('on WASM a clone shares its input memory (a reference count) and keeps its values after the input is freed; elsewhere it does nothing', () => {
    shareWasmIdentity();
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const y = tf.clone(x);
    const b = tf.backend() as unknown as { getMemoryOffset?(dataId: object): number };
    const id = (t: tf.Tensor): object => (t as unknown as { dataId: object }).dataId;
    if (tf.getBackend() === 'wasm') {
      expect(tf.getKernel('Identity', 'wasm')).not.toBeUndefined();
      expect(id(y)).toBe(id(x));
      expect(b.getMemoryOffset!(id(y))).toBe(b.getMemoryOffset!(id(x)));
    } else {
      expect(tf.getBackend()).not.toBe('wasm');
    }
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    y.dispose();
    // Idempotent.
    shareWasmIdentity();
    const s = tf.clone(tf.scalar(5));
    expect(s.dataSync()[0]).toBe(5);
  });

  it('a training step after it gives the same loss twice from the same start (saved tensors are not corrupted) and a flat tensor count', () => {
    const run = (): number[] => {
      const m = new MAE({ ...maeMicro, seed: 4 });
      const opt = new AdamW(m, { lr: 1e-3 });
      const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 2);
      const losses: number[] = [];
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        losses.push(trainStep(() => m.forward(x, { seed: 1 }).loss, m, opt).loss);
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts).size).toBe(1);
      x.dispose();
      opt.dispose();
      m.dispose();
      return losses;
    };
    const a = run();
    const b = run();
    expect(b).toEqual(a);
    expect(a[2]!).toBeLessThan(a[0]!);
  });
});

describe('sumRows', () => {
  it('sums every axis but the last, as a product with ones (hand example), without leaking', () => {
    const t = tf.tensor3d([[[1, 2], [3, 4]], [[5, 6], [7, 8.5]]]);
    const before = tf.memory().numTensors;
    const s = sumRows(t);
    expect(s.shape).toEqual([2]);
    expect(Array.from(s.dataSync())).toEqual([16, 20.5]);
    s.dispose();
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
  });

  it('equals tf.sum over the leading axes on a larger input, through AvgPool on wasm and a product elsewhere', async () => {
    const t = tf.randomUniform([3, 700, 37], -1, 1, 'float32', 5);
    const want = tf.sum(tf.reshape(t, [-1, 37]), 0);
    const profile = await tf.profile(() => sumRows(t));
    const got = profile.result as tf.Tensor;
    expect(got.shape).toEqual([37]);
    const diff = tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]!;
    expect(diff).toBeLessThan(1e-3);
    expect(profile.kernelNames.includes('AvgPool')).toBe(tf.getBackend() === 'wasm');
    tf.dispose([t, want, got]);
  });

  it('is zero for an input without rows (tf.sum of an empty tensor is garbage on wasm)', () => {
    const t = tf.zeros([0, 4]);
    const s = sumRows(t);
    expect(s.shape).toEqual([4]);
    expect(Array.from(s.dataSync())).toEqual([0, 0, 0, 0]);
    tf.dispose([t, s]);
  });
});
