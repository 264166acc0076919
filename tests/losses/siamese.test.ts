import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { byolLoss, simsiamLoss, stopGradient } from '../../src/losses/index.js';
import { absSum, expectClose, expectNoLeak, numericGrad, randMatrix } from './helpers.js';

type M = number[][];
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
/** PyTorch CosineSimilarity(dim=1): each norm bounded below by eps. */
const cos = (a: number[], b: number[], eps: number) =>
  dot(a, b) / (Math.max(Math.sqrt(dot(a, a)), eps) * Math.max(Math.sqrt(dot(b, b)), eps));
const meanCos = (p: M, z: M, eps = 1e-8) => p.reduce((s, r, i) => s + cos(r, z[i]!, eps), 0) / p.length;
const refSimsiam = (p1: M, p2: M, z1: M, z2: M) => -(meanCos(p1, z2) + meanCos(p2, z1)) / 2;
const refByol = (p1: M, p2: M, z1: M, z2: M) =>
  2 - 2 * meanCos(p1, z2, 1e-12) + (2 - 2 * meanCos(p2, z1, 1e-12));
const unflat = (v: number[], rows: number, cols: number): M =>
  Array.from({ length: rows }, (_, i) => v.slice(i * cols, (i + 1) * cols));

type Loss = (p1: tf.Tensor, p2: tf.Tensor, z1: tf.Tensor, z2: tf.Tensor) => tf.Scalar;
const cases: [string, Loss, (p1: M, p2: M, z1: M, z2: M) => number][] = [
  ['simsiamLoss', simsiamLoss, refSimsiam],
  ['byolLoss', byolLoss, refByol],
];

describe.each(cases)('%s', (name, loss, ref) => {
  it.each([
    [4, 16, 1],
    [1, 3, 0.01],
    [7, 5, 100],
  ])('matches the reference (N=%i D=%i, scale %f)', (n, d, scale) => {
    const m = [1, 2, 3, 4].map((s) => randMatrix(s * 31 + n * d, n, d, scale));
    const ts = m.map((x) => tf.tensor2d(x)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    expectNoLeak(() => {
      const l = loss(...ts);
      expectClose(l.dataSync(), [ref(m[0]!, m[1]!, m[2]!, m[3]!)], 1e-5, 1e-4);
      return l;
    });
    tf.dispose(ts);
  });

  it('hits its optimum when predictions equal the targets', () => {
    const z = tf.tensor2d(randMatrix(9, 3, 4));
    const w = tf.tensor2d(randMatrix(10, 3, 4));
    const l = loss(z, w, tf.mul(w, 3), tf.mul(z, 2));
    expect(l.dataSync()[0]).toBeCloseTo(name === 'simsiamLoss' ? -1 : 0, 5);
  });

  it('gradients reach p (finite differences) and never z (stop-gradient)', () => {
    const n = 3;
    const d = 4;
    const m = [11, 12, 13, 14].map((s) => randMatrix(s, n, d));
    const ts = m.map((x) => tf.tensor2d(x)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const before = tf.memory().numTensors;
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => loss(a, b, c, e))(ts);
    const idx = [0, 6, 11];
    const fd = numericGrad((v) => ref(unflat(v, n, d), m[1]!, m[2]!, m[3]!), m[0]!.flat(), idx);
    expectClose(idx.map((i) => g[0]!.dataSync()[i]!), fd, 1e-4, 1e-3);
    expect(absSum(g[1]!)).toBeGreaterThan(1e-4);
    expect(absSum(g[2]!)).toBe(0);
    expect(absSum(g[3]!)).toBe(0);
    tf.dispose(g);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(ts);
  });

  it('rejects mismatched shapes and bad eps', () => {
    const a = tf.zeros([4, 8]);
    expect(() => loss(a, a, tf.zeros([4, 6]), a)).toThrow(new RegExp(`${name}: z1 must have the shape of p1 \\[4, 8\\], got \\[4, 6\\]`));
    expect(() => loss(tf.zeros([8]), a, a, a)).toThrow(/p1 must have rank 2/);
    expect(() => (name === 'simsiamLoss' ? simsiamLoss(a, a, a, a, { eps: 0 }) : byolLoss(a, a, a, a, { eps: -1 }))).toThrow(
      /options.eps must be a finite number > 0/,
    );
  });
});

describe('stopGradient', () => {
  it('is the identity forward and blocks the gradient', () => {
    const x = tf.tensor1d([1, -2, 3]);
    const y = stopGradient(x);
    expect(Array.from(y.dataSync())).toEqual([1, -2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.add(tf.mul(stopGradient(t), t), t)))(x);
    // d/dt (sg(t) * t + t) = sg(t) + 1
    expect(Array.from(g.dataSync())).toEqual([2, -1, 4]);
    expect(() => stopGradient(3 as unknown as tf.Tensor)).toThrow(/stopGradient: x must be a tf.Tensor, got number/);
  });
});
