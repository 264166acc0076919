import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW, Linear, Rng, cosineSchedule, linear, trainStep, type GradientOptimizer } from '../../src/index.js';

/** Records the gradients it is given (as arrays) and applies plain SGD with lr 1. */
class Recorder implements GradientOptimizer {
  seen: Record<string, number[]>[] = [];
  lrs: (number | undefined)[] = [];
  constructor(private readonly vars: tf.Variable[]) {}
  variables(): tf.Variable[] {
    return this.vars;
  }
  step(grads: tf.NamedTensorMap, lr?: number): void {
    this.lrs.push(lr);
    this.seen.push(Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Array.from(g.dataSync())])));
  }
}

describe('trainStep', () => {
  it('passes gradients (clipped when asked) and returns loss and grad norm', () => {
    const w = tf.variable(tf.tensor1d([3, 4]));
    const opt = new Recorder([w]);
    // loss = 0.5 * ||w||^2, gradient w, norm 5.
    const loss = (): tf.Scalar => tf.mul(tf.sum(tf.square(w)), 0.5) as tf.Scalar;
    const r0 = trainStep(loss, [w], opt, { lr: 0.25 });
    expect(r0).toEqual({ loss: 12.5, gradNorm: null });
    expect(opt.seen[0]![w.name]).toEqual([3, 4]);
    expect(opt.lrs[0]).toBe(0.25);
    const r1 = trainStep(loss, [w], opt, { returnGradNorm: true });
    expect(r1.gradNorm).toBeCloseTo(5, 5);
    expect(opt.seen[1]![w.name]).toEqual([3, 4]);
    const r2 = trainStep(loss, [w], opt, { clipNorm: 1 });
    expect(r2.gradNorm).toBeCloseTo(5, 5);
    const g = opt.seen[2]![w.name]!;
    expect(g[0]).toBeCloseTo(0.6, 5);
    expect(g[1]).toBeCloseTo(0.8, 5);
    w.dispose();
  });

  it('keeps the tensor count flat over 10 steps, optimizer state created in step 1', () => {
    const lin = new Linear({ inFeatures: 3, outFeatures: 2, seed: 3 });
    const x = tf.tensor2d([[1, 2, 3], [-1, 0.5, 2]]);
    const y = tf.tensor2d([[1, 0], [0, 1]]);
    const opt = new AdamW(lin, { lr: 0.01 });
    const loss = (): tf.Scalar => tf.mean(tf.square(tf.sub(lin.forward(x), y))) as tf.Scalar;
    const start = tf.memory().numTensors;
    const counts: number[] = [];
    const losses: number[] = [];
    for (let i = 0; i < 10; i++) {
      losses.push(trainStep(loss, lin, opt, { clipNorm: 1, lr: 0.01 * (i + 1) }).loss);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[0]).toBe(start + 4); // two moments for each of weight and bias
    expect(counts[9]).toBe(counts[1]);
    expect(new Set(counts).size).toBe(1);
    expect(losses[9]!).toBeLessThan(losses[0]!);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x, y]);
    lin.dispose();
  });

  it('fits a linear regression with AdamW + cosine schedule', () => {
    const rng = new Rng(7);
    const n = 64;
    const xs = Array.from({ length: n * 3 }, () => rng.uniformRange(-1, 1));
    const wTrue = [1.5, -2, 0.5];
    const ys = Array.from({ length: n }, (_, i) => wTrue.reduce((a, w, j) => a + w * xs[i * 3 + j]!, 0) + 0.3);
    const x = tf.tensor2d(xs, [n, 3]);
    const y = tf.tensor2d(ys, [n, 1]);
    const W = tf.variable(tf.zeros([3, 1]), true, 'lr_W');
    const b = tf.variable(tf.zeros([1]), true, 'lr_b');
    const opt = new AdamW(new Map([['fc.weight', W], ['fc.bias', b]]), { betas: [0.9, 0.95], weightDecay: 1e-4 });
    const total = 200;
    const lr = cosineSchedule({ baseLr: 0.1, minLr: 1e-4, warmupSteps: 10, totalSteps: total });
    const loss = (): tf.Scalar => tf.mean(tf.square(tf.sub(linear(x, W, b), y))) as tf.Scalar;
    let first = 0;
    let last = 0;
    for (let s = 0; s < total; s++) {
      last = trainStep(loss, [W, b], opt, { lr: lr(s) }).loss;
      if (s === 0) first = last;
    }
    expect(first).toBeGreaterThan(1);
    expect(last).toBeLessThan(1e-4);
    const wGot = Array.from(W.dataSync());
    wGot.forEach((v, i) => expect(Math.abs(v - wTrue[i]!)).toBeLessThan(0.01));
    expect(Math.abs(b.dataSync()[0]! - 0.3)).toBeLessThan(0.01);
    opt.dispose();
    tf.dispose([x, y, W, b]);
  });

  it('rejects bad options and foreign variables before any tensor work', () => {
    const w = tf.variable(tf.zeros([1]));
    const other = tf.variable(tf.zeros([1]));
    const opt = new Recorder([w]);
    const before = tf.memory().numTensors;
    const loss = (): tf.Scalar => tf.sum(w) as tf.Scalar;
    expect(() => trainStep(loss, [w], opt, { clipNorm: 0 })).toThrow(/clipNorm must be a finite number > 0, got 0/);
    expect(() => trainStep(loss, [w], opt, { lr: -1 })).toThrow(/lr must be a finite number >= 0, got -1/);
    expect(() => trainStep(loss, [], opt)).toThrow(/at least one trainable variable, got 0/);
    expect(() => trainStep(loss, [other], opt)).toThrow(new RegExp(`variable '${other.name}' is not one of the optimiser's parameters`));
    expect(tf.memory().numTensors).toBe(before);
    expect(opt.seen.length).toBe(0);
    tf.dispose([w, other]);
  });
});
