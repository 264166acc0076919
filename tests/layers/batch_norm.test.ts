import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, batchNormBuffers, batchNormModules } from '../../src/layers/batch_norm.js';
import { expectClose } from './helpers.js';
import { expectThrowsEarly } from '../models/helpers.js';

/** Column statistics by hand: mean, biased and unbiased variance. */
function stats(x: number[][]): { mean: number[]; varB: number[]; varU: number[] } {
  const n = x.length;
  const c = x[0]!.length;
  const mean = Array.from({ length: c }, (_, j) => x.reduce((s, r) => s + r[j]!, 0) / n);
  const ss = Array.from({ length: c }, (_, j) => x.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0));
  return { mean, varB: ss.map((v) => v / n), varU: ss.map((v) => v / (n - 1)) };
}

const X = [
  [0.5, -1.2, 3.0],
  [1.5, 0.3, -2.0],
  [-0.7, 2.2, 0.4],
  [2.1, -0.4, 1.1],
];
const W = [1.5, -0.5, 2.0];
const B = [0.1, 0.2, -0.3];

function withAffine(bn: BatchNorm1d): void {
  bn.weight!.write(tf.tensor1d(W));
  bn.bias!.write(tf.tensor1d(B));
}

describe('BatchNorm1d', () => {
  it('training: batch statistics with the biased variance; running stats with momentum 0.1 and the unbiased variance', () => {
    const bn = new BatchNorm1d({ numFeatures: 3 });
    withAffine(bn);
    const x = tf.tensor2d(X);
    const before = tf.memory().numTensors;
    const y = bn.forward(x, { training: true });
    const { mean, varB, varU } = stats(X);
    const want = X.map((r) => r.map((v, j) => ((v - mean[j]!) / Math.sqrt(varB[j]! + 1e-5)) * W[j]! + B[j]!));
    expectClose(y, want.flat(), 1e-5, 1e-5);
    expectClose(bn.runningMean.read(), mean.map((m) => 0.1 * m), 1e-6, 1e-6);
    expectClose(bn.runningVar.read(), varU.map((v) => 0.9 + 0.1 * v), 1e-6, 1e-6);
    expect(bn.numBatchesTracked).toBe(1);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // A second step compounds.
    tf.dispose(bn.forward(x, { training: true }));
    expectClose(bn.runningMean.read(), mean.map((m) => 0.9 * 0.1 * m + 0.1 * m), 1e-6, 1e-6);
    expect(bn.numBatchesTracked).toBe(2);
    x.dispose();
    bn.dispose();
  });

  it('eval: running statistics, nothing changes', () => {
    const bn = new BatchNorm1d({ numFeatures: 3, eps: 1e-3 });
    withAffine(bn);
    bn.runningMean.write(tf.tensor1d([0.2, -0.1, 0.5]));
    bn.runningVar.write(tf.tensor1d([2, 0.5, 1.5]));
    const x = tf.tensor2d(X);
    const y = bn.forward(x); // default eval
    const rm = [0.2, -0.1, 0.5];
    const rv = [2, 0.5, 1.5];
    expectClose(y, X.map((r) => r.map((v, j) => ((v - rm[j]!) / Math.sqrt(rv[j]! + 1e-3)) * W[j]! + B[j]!)).flat(), 1e-5, 1e-5);
    expectClose(bn.runningMean.read(), rm, 1e-7, 0);
    expect(bn.numBatchesTracked).toBe(0);
    tf.dispose([x, y]);
    bn.dispose();
  });

  it('affine false has only the buffers; momentum null is the cumulative average', () => {
    const bn = new BatchNorm1d({ numFeatures: 3, affine: false, momentum: null });
    expect([...bn.namedWeights().keys()]).toEqual(['running_mean', 'running_var']);
    expect(bn.trainableWeights.length).toBe(0);
    const x1 = tf.tensor2d(X);
    const x2 = tf.mul(x1, 2);
    tf.dispose([bn.forward(x1, { training: true }), bn.forward(x2, { training: true })]);
    const m1 = stats(X).mean;
    // cumulative: after two batches the plain average of the two batch means.
    expectClose(bn.runningMean.read(), m1.map((m) => (m + 2 * m) / 2), 1e-6, 1e-6);
    tf.dispose([x1, x2]);
    bn.dispose();
  });

  it('gradients flow through the batch statistics (the closed-form BatchNorm backward)', () => {
    const bn = new BatchNorm1d({ numFeatures: 3 });
    withAffine(bn);
    const G = [
      [0.3, -0.1, 0.7],
      [-0.5, 0.9, 0.2],
      [0.8, 0.4, -0.6],
      [0.1, -0.3, 0.5],
    ];
    const x = tf.tensor2d(X);
    const g = tf.tensor2d(G);
    const before = tf.memory().numTensors;
    const [w, b] = [bn.weight!.read() as tf.Variable, bn.bias!.read() as tf.Variable];
    const { value, grads } = tf.valueAndGrads((xx: tf.Tensor) => tf.sum(tf.mul(bn.forward(xx, { training: true }), g)) as tf.Scalar)([x]);
    const vg = tf.variableGrads(() => tf.sum(tf.mul(bn.forward(x, { training: true }), g)) as tf.Scalar, [w, b]);
    const n = X.length;
    const { mean, varB } = stats(X);
    const xhat = X.map((r) => r.map((v, j) => (v - mean[j]!) / Math.sqrt(varB[j]! + 1e-5)));
    const gMean = [0, 1, 2].map((j) => G.reduce((s, r) => s + r[j]!, 0) / n);
    const gxMean = [0, 1, 2].map((j) => G.reduce((s, r, i) => s + r[j]! * xhat[i]![j]!, 0) / n);
    const dx = X.map((r, i) => r.map((_, j) => (W[j]! / Math.sqrt(varB[j]! + 1e-5)) * (G[i]![j]! - gMean[j]! - xhat[i]![j]! * gxMean[j]!)));
    expectClose(grads[0]!, dx.flat(), 1e-5, 1e-4);
    expectClose(vg.grads[w.name]!, [0, 1, 2].map((j) => G.reduce((s, r, i) => s + r[j]! * xhat[i]![j]!, 0)), 1e-5, 1e-4);
    expectClose(vg.grads[b.name]!, [0, 1, 2].map((j) => G.reduce((s, r) => s + r[j]!, 0)), 1e-6, 1e-5);
    tf.dispose([value, ...grads, vg.value, ...Object.values(vg.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, g]);
    bn.dispose();
  });

  it('bad config and input throw before any tensor work', () => {
    expect(() => new BatchNorm1d({ numFeatures: 0 })).toThrow(/numFeatures must be a positive integer, got 0/);
    expect(() => new BatchNorm1d({ numFeatures: 2, momentum: 1.5 })).toThrow(/momentum must be in \[0, 1\] or null \(cumulative average\), got 1.5/);
    expect(() => new BatchNorm1d({ numFeatures: 2, eps: 0 })).toThrow(/eps must be a positive number/);
    const bn = new BatchNorm1d({ numFeatures: 3 });
    const one = tf.zeros([1, 3]);
    const bad = tf.zeros([2, 4]);
    expectThrowsEarly(() => bn.forward(one, { training: true }), /more than one row per feature.*N=1/);
    expectThrowsEarly(() => bn.forward(bad), /x must be \[N, numFeatures=3\], got shape \[2,4\]/);
    expect(bn.numBatchesTracked).toBe(0);
    tf.dispose([one, bad]);
    bn.dispose();
  });

  it('batchNormModules / batchNormBuffers find nested BatchNorms by key', () => {
    const bn = new BatchNorm1d({ numFeatures: 2 });
    expect([...batchNormModules(bn).keys()]).toEqual(['']);
    expect(batchNormBuffers(bn).size).toBe(2);
    bn.dispose();
  });
});
