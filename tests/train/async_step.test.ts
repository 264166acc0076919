import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import {
  AdamW,
  Linear,
  clipGradNorm,
  clipGradNormAsync,
  globalGradNorm,
  globalGradNormAsync,
  halfPrecisionBackend,
  trainStep,
  trainStepAsync,
} from '../../src/index.js';

function problem(seed: number): { lin: Linear; x: tf.Tensor; y: tf.Tensor; loss: () => tf.Scalar } {
  const lin = new Linear({ inFeatures: 3, outFeatures: 2, seed });
  const x = tf.tensor2d([[1, 2, 3], [-1, 0.5, 2]]);
  const y = tf.tensor2d([[1, 0], [0, 1]]);
  const loss = (): tf.Scalar => tf.mean(tf.square(tf.sub(lin.forward(x), y))) as tf.Scalar;
  return { lin, x, y, loss };
}

describe('trainStepAsync', () => {
  it('gives the same losses, norms and weights as trainStep, tensor count flat', async () => {
    const a = problem(3);
    const b = problem(3);
    const optA = new AdamW(a.lin, { lr: 0.05 });
    const optB = new AdamW(b.lin, { lr: 0.05 });
    const start = tf.memory().numTensors;
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) {
      const opts = i % 3 === 0 ? { clipNorm: 0.5 } : i % 3 === 1 ? { returnGradNorm: true } : {};
      const ra = trainStep(a.loss, a.lin, optA, opts);
      const rb = await trainStepAsync(b.loss, b.lin, optB, opts);
      expect(rb.loss).toBeCloseTo(ra.loss, 6);
      if (ra.gradNorm === null) expect(rb.gradNorm).toBeNull();
      else expect(rb.gradNorm!).toBeCloseTo(ra.gradNorm, 6);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[0]).toBe(start + 8); // two moments for weight and bias, in each optimiser
    expect(new Set(counts).size).toBe(1);
    const wa = a.lin.namedWeights();
    const wb = b.lin.namedWeights();
    for (const [k, v] of wa) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(v.read(), wb.get(k)!.read()))).dataSync()[0]!);
      expect(d).toBeLessThan(1e-6);
    }
    optA.dispose();
    optB.dispose();
    for (const p of [a, b]) {
      tf.dispose([p.x, p.y]);
      p.lin.dispose();
    }
  });

  it('validates before any tensor work and leaks nothing after a throw', async () => {
    const p = problem(1);
    const opt = new AdamW(p.lin);
    const before = tf.memory().numTensors;
    await expect(trainStepAsync(p.loss, p.lin, opt, { clipNorm: -1 })).rejects.toThrow(/trainStepAsync: clipNorm must be/);
    await expect(trainStepAsync(p.loss, [], opt)).rejects.toThrow(/at least one trainable variable/);
    const bad = (): tf.Scalar => {
      tf.ones([3]);
      throw new Error('boom');
    };
    await expect(trainStepAsync(bad, p.lin, opt)).rejects.toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    tf.dispose([p.x, p.y]);
    p.lin.dispose();
  });
});

describe('clipGradNormAsync / globalGradNormAsync', () => {
  it('equal the synchronous forms', async () => {
    const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[1, 2]]) };
    const before = tf.memory().numTensors;
    const s = clipGradNorm(grads, 2);
    const a = await clipGradNormAsync(grads, 2);
    expect(a.totalNorm).toBeCloseTo(s.totalNorm, 6);
    expect(Array.from(a.grads.a!.dataSync())).toEqual(Array.from(s.grads.a!.dataSync()));
    expect(await globalGradNormAsync(grads)).toBeCloseTo(globalGradNorm(grads), 6);
    expect(await globalGradNormAsync([])).toBe(0);
    tf.dispose(Object.values(s.grads));
    tf.dispose(Object.values(a.grads));
    expect(tf.memory().numTensors).toBe(before);
    await expect(clipGradNormAsync(grads, 0)).rejects.toThrow(/clipGradNormAsync: maxNorm must be/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(grads));
  });
});

describe('AdamW on a 16-bit backend', () => {
  it('raises eps to halfPrecisionEps only when the backend reports 16-bit floats', () => {
    const w = tf.variable(tf.tensor1d([1, -1]), true, 'hp_w');
    const opt = new AdamW(new Map([['w', w]]), { lr: 0.1, weightDecay: 0 });
    expect(halfPrecisionBackend()).toBe(false);
    expect(opt.effectiveEps()).toBe(1e-8);
    const backend = tf.backend() as unknown as { floatPrecision: () => number };
    const spy = vi.spyOn(backend, 'floatPrecision').mockReturnValue(16);
    try {
      expect(halfPrecisionBackend()).toBe(true);
      expect(opt.effectiveEps()).toBe(1e-4);
      expect(new AdamW(new Map([['w', w]]), { eps: 1e-3 }).effectiveEps()).toBe(1e-3);
      // First step: m = 0.1 g, v = 0.001 g^2, update = lr * g / (|g| + eps / ...) ~ lr * sign(g).
      const g = tf.tensor1d([1e-3, -1e-3]);
      opt.step({ w: g });
      const got = w.dataSync();
      // With eps 1e-4: step = 0.1 * 1e-3 / (1e-3 + 1e-4) = 0.0909...
      expect(got[0]).toBeCloseTo(1 - 0.1 * 1e-3 / (1e-3 + 1e-4), 5);
      g.dispose();
    } finally {
      spy.mockRestore();
    }
    expect(() => new AdamW(new Map([['w', w]]), { halfPrecisionEps: -1 })).toThrow(/halfPrecisionEps must be/);
    opt.dispose();
    w.dispose();
  });
});
