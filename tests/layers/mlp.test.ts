import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Mlp, gelu, LayerScale } from '../../src/layers/index.js';
import { expectClose } from './helpers.js';

describe('gelu', () => {
  it('is the exact erf form x * Phi(x), not the tanh approximation', () => {
    // Phi from scipy.stats.norm.cdf: Phi(1) = 0.8413447460685429, Phi(2) = 0.9772498680518208, Phi(-3) = 0.0013498980316301035.
    const y = gelu(tf.tensor1d([0, 1, -1, 2, -3]));
    expectClose(y, [0, 0.8413447460685429, -0.15865525393145707, 1.9544997361036416, -0.0040496940948903105], 1e-6, 1e-5);
    // The tanh approximation gives 0.8411920 at x = 1: farther than the tolerance above.
    expect(Math.abs(y.dataSync()[1]! - 0.841192)).toBeGreaterThan(1e-4);
  });

  it('has the gradient Phi(x) + x * phi(x) and keeps no tensor after backward', () => {
    // phi(1) = 0.24197072451914337, phi(2) = 0.05399096651318806, phi(3) = 0.0044318484119380075.
    const x = tf.tensor1d([0, 1, -1, 2, -3]);
    const before = tf.memory().numTensors;
    const g = tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x);
    expectClose(
      g,
      [0.5, 1.0833154705876864, -0.08331547058768629, 1.085231801078197, -0.01194564720418392],
      1e-6,
      1e-5,
    );
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // Outside any tidy and without a tape, only the output stays (the saved Phi(x) is not leaked).
    const y = gelu(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    y.dispose();
    x.dispose();
  });

  it('gradient far in the tails: 1 for large x, 0 for very negative x (exp(-x^2/2) underflows cleanly)', () => {
    // x * phi(x) at 6 is 6 * 6.08e-9; at 15 exp(-112.5) is below float32's range.
    const x = tf.tensor1d([6, -6, 15, -15]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x);
    expectClose(g, [1 + 6 * 6.075882849823286e-9 - 9.865876450376946e-10, -6 * 6.075882849823286e-9 + 9.865876450376946e-10, 1, 0], 1e-7, 1e-6);
    tf.dispose([x, g]);
  });
});

describe('Mlp', () => {
  it('fc2(gelu(fc1(x))) with hidden = floor(D * mlpRatio) (hand example)', () => {
    const m = new Mlp({ inFeatures: 1, hiddenFeatures: 2 });
    m.fc1.weight.write(tf.tensor2d([[1, -2]]));
    m.fc1.bias!.write(tf.tensor1d([0, 1]));
    m.fc2.weight.write(tf.tensor2d([[1], [3]]));
    m.fc2.bias!.write(tf.tensor1d([0.5]));
    // x = 1: fc1 -> [1, -1]; gelu -> [0.841345, -0.158655]; fc2 -> 0.841345 - 0.475966 + 0.5.
    const y = m.forward(tf.tensor2d([[1]]));
    expectClose(y, [0.8413447 - 3 * 0.1586553 + 0.5], 1e-6, 0);
    expect(new Mlp({ inFeatures: 3, mlpRatio: 2.5 }).config.hiddenFeatures).toBe(7);
    expect([...new Mlp({ inFeatures: 4 }).namedWeights().keys()]).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(new Mlp({ inFeatures: 4 }).fc1.weight.shape).toEqual([4, 16]);
  });

  it('rejects bad config and input', () => {
    expect(() => new Mlp({ inFeatures: 4, mlpRatio: 0 })).toThrow(/mlpRatio must be a finite number > 0 and <= 64, got 0/);
    const x = tf.zeros([2, 5]);
    expect(() => new Mlp({ inFeatures: 4 }).forward(x)).toThrow(/last dimension must be inFeatures=4, got shape \[2,5\]/);
  });
});

describe('LayerScale', () => {
  it('multiplies each channel by gamma, started at initValues', () => {
    const ls = new LayerScale({ dim: 3, initValues: 0.1 });
    expect([...ls.namedWeights().keys()]).toEqual(['gamma']);
    expectClose(ls.gamma.read(), new Array(3).fill(Math.fround(0.1)), 0, 0);
    ls.gamma.write(tf.tensor1d([1, 2, 3]));
    expectClose(ls.forward(tf.tensor2d([[1, 1, 1], [2, 0, -1]])), [1, 2, 3, 2, 0, -3], 0, 0);
    expect(new LayerScale({ dim: 2 }).config.initValues).toBe(1e-5);
  });
});
