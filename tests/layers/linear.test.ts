import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Linear, LayerNorm } from '../../src/index.js';

describe('Linear', () => {
  it('computes x W + b and has gradients', () => {
    const lin = new Linear({ inFeatures: 3, outFeatures: 2, seed: 1 });
    lin.weight.write(tf.tensor2d([[1, 2], [3, 4], [5, 6]]));
    lin.bias!.write(tf.tensor1d([0.5, -0.5]));
    const x = tf.tensor3d([[[1, 0, 1]], [[0, 1, 0]]]);
    const y = lin.forward(x);
    expect(y.shape).toEqual([2, 1, 2]);
    expect(Array.from(y.dataSync())).toEqual([6.5, 7.5, 3.5, 3.5]);
    const { grads } = tf.variableGrads(() => tf.sum(lin.forward(x)) as tf.Scalar, lin.trainableVariables());
    expect(Object.keys(grads).length).toBe(2);
    expect([...lin.namedWeights().keys()]).toEqual(['weight', 'bias']);
  });
  it('rejects bad config', () => {
    expect(() => new Linear({ inFeatures: 0, outFeatures: 2 })).toThrow(/inFeatures must be an integer in \[1, 65536\], got 0/);
    expect(() => new LayerNorm({ dim: 4, eps: 0 })).toThrow(/eps/);
  });
});
