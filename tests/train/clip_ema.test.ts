import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { EMA, clipGradNorm, cosineMomentum, globalGradNorm } from '../../src/index.js';
import { maxDiff, moduleFromNames } from './helpers.js';

describe('clipGradNorm (torch.nn.utils.clip_grad_norm_)', () => {
  it('scales by maxNorm / (total + 1e-6) when the global norm is too large', () => {
    const before = tf.memory().numTensors;
    const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) };
    const { grads: out, totalNorm } = clipGradNorm(grads, 6.5);
    // sqrt(9 + 16 + 144) = 13. torch 1.13.1 on the same input (p.grad = these, max_norm 6.5):
    // total_norm 13.0, grads [1.4999998807907104, 1.9999998807907104], [[5.999999523162842]].
    expect(totalNorm).toBeCloseTo(13, 5);
    expect(maxDiff(out.a!, [1.4999998807907104, 1.9999998807907104])).toBeLessThan(1e-6);
    expect(maxDiff(out.b!, [5.999999523162842])).toBeLessThan(1e-6);
    expect(out.b!.shape).toEqual([1, 1]);
    // Inputs are untouched and still owned by the caller.
    expect(Array.from(grads.a.dataSync())).toEqual([3, 4]);
    tf.dispose([grads, out]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves small gradients (coefficient clamped to 1) and takes lists', () => {
    const g = [tf.tensor1d([0.3, -0.4])];
    const { grads: out, totalNorm } = clipGradNorm(g, 1);
    expect(totalNorm).toBeCloseTo(0.5, 6);
    expect(maxDiff(out[0]!, [0.3, -0.4])).toBeLessThan(1e-7);
    expect(globalGradNorm(g)).toBeCloseTo(0.5, 6);
    expect(globalGradNorm([])).toBe(0);
    expect(clipGradNorm({}, 1)).toEqual({ grads: {}, totalNorm: 0 });
    tf.dispose([g, out]);
  });

  it('rejects maxNorm <= 0', () => {
    expect(() => clipGradNorm([], 0)).toThrow(/maxNorm must be a finite number > 0, got 0/);
    expect(() => clipGradNorm([], -1)).toThrow(/maxNorm must be a finite number > 0, got -1/);
  });
});

describe('EMA', () => {
  it('updates target = m * target + (1 - m) * source with a per-call momentum', () => {
    const s = tf.variable(tf.tensor1d([1, 2]));
    const t = tf.variable(tf.tensor1d([0, 10]));
    const ema = new EMA([s], [t], { momentum: 0.9 });
    const before = tf.memory().numTensors;
    ema.update();
    expect(maxDiff(t, [0.1, 9.2])).toBeLessThan(1e-6);
    ema.update(0.5);
    expect(maxDiff(t, [0.55, 5.6])).toBeLessThan(1e-6);
    ema.update(cosineMomentum(0.5, 10, 10)); // momentum 1 at the end of the schedule: frozen
    expect(maxDiff(t, [0.55, 5.6])).toBeLessThan(1e-6);
    ema.update(0); // momentum 0 copies
    expect(maxDiff(t, [1, 2])).toBeLessThan(1e-7);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(s.dataSync())).toEqual([1, 2]);
    ema.dispose(); // a given target is not the EMA's to free
    expect(t.isDisposed).toBe(false);
    tf.dispose([s, t]);
  });

  it('pairs two modules by name, frozen weights included (momentum encoder)', () => {
    const spec = { 'blocks.0.w': [2, 1], 'patch_embed.proj.weight': [1, 1] };
    const student = moduleFromNames(spec);
    const teacher = moduleFromNames(spec);
    teacher.trainable = false;
    student.namedWeights().get('patch_embed.proj.weight')!.trainable = false;
    for (const w of student.namedWeights().values()) {
      const v = tf.fill(w.shape as number[], 4);
      w.write(v);
      v.dispose();
    }
    const ema = new EMA(student, teacher, { momentum: 0.75 });
    ema.update();
    expect(maxDiff(teacher.namedWeights().get('blocks.0.w')!.read(), [1, 1])).toBeLessThan(1e-7);
    expect(maxDiff(teacher.namedWeights().get('patch_embed.proj.weight')!.read(), [1])).toBeLessThan(1e-7);
    expect([...ema.targets().keys()]).toEqual(['blocks.0.w', 'patch_embed.proj.weight']);
    const other = moduleFromNames({ 'blocks.0.w': [2, 1] });
    expect(() => new EMA(student, other)).toThrow(/missing in target: \[patch_embed.proj.weight\]/);
    const wrong = moduleFromNames({ 'blocks.0.w': [1, 2], 'patch_embed.proj.weight': [1, 1] });
    expect(() => new EMA(student, wrong)).toThrow(/'blocks.0.w' has shape \[2,1\] in source but \[1,2\] in target/);
    [student, teacher, other, wrong].forEach((m) => m.dispose());
  });

  it('keeps and frees its own shadow copy when no target is given', () => {
    const s = tf.variable(tf.tensor1d([2, 4]));
    const before = tf.memory().numTensors;
    const ema = new EMA([s], undefined, { momentum: 0.5 });
    const shadow = ema.targets().get('0')!;
    expect(Array.from(shadow.dataSync())).toEqual([2, 4]);
    const zero = tf.tensor1d([0, 0]);
    s.assign(zero);
    zero.dispose();
    ema.update();
    expect(Array.from(shadow.dataSync())).toEqual([1, 2]);
    ema.dispose();
    expect(shadow.isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    s.dispose();
  });

  it('validates momentum and inputs', () => {
    const s = tf.variable(tf.zeros([1]));
    expect(() => new EMA([s], [s])).toThrow(/'0' is the same variable in source and target/);
    expect(() => new EMA([s], undefined, { momentum: 1.1 })).toThrow(/momentum must be in \[0, 1\], got 1.1/);
    expect(() => new EMA([])).toThrow(/source must hold at least one variable, got 0/);
    const ema = new EMA([s]);
    expect(ema.momentum).toBe(0.996);
    expect(() => ema.update(-0.1)).toThrow(/momentum must be in \[0, 1\], got -0.1/);
    ema.dispose();
    s.dispose();
  });
});
