import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { DropPath, dropPath } from '../../src/layers/index.js';
import { Rng } from '../../src/utils/random.js';

describe('DropPath', () => {
  it('is the identity with rate 0 or outside training (same tensor, nothing drawn)', () => {
    const x = tf.ones([3, 2]);
    expect(new DropPath({ rate: 0 }).forward(x, { training: true })).toBe(x);
    const dp = new DropPath({ rate: 0.3 });
    expect(dp.forward(x)).toBe(x);
    expect(dp.forward(x, { training: false })).toBe(x);
    expect(dp.step).toBe(0);
    x.dispose();
  });

  it('drops whole samples and scales the kept ones by 1/(1 - rate): expectation preserved', () => {
    const b = 4000;
    const rate = 0.25;
    const x = tf.ones([b, 3]);
    const dp = new DropPath({ rate, seed: 7 });
    const before = tf.memory().numTensors;
    const y = dp.forward(x, { training: true });
    const v = y.dataSync();
    let kept = 0;
    for (let i = 0; i < b; i++) {
      const row = [v[3 * i]!, v[3 * i + 1]!, v[3 * i + 2]!];
      // One decision per sample: the whole row is 0 or 1/(1-rate).
      expect(row[0] === row[1] && row[1] === row[2]).toBe(true);
      expect(row[0] === 0 || Math.abs(row[0]! - 1 / (1 - rate)) < 1e-6).toBe(true);
      if (row[0] !== 0) kept++;
    }
    // Binomial(4000, 0.75): sd ~ 27; 5 sd bounds.
    expect(Math.abs(kept - 0.75 * b)).toBeLessThan(140);
    const meanT = tf.mean(y);
    const mean = meanT.dataSync()[0]!;
    expect(Math.abs(mean - 1)).toBeLessThan(0.05);
    tf.dispose([y, meanT]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('is reproducible: same seed and calls give the same drops; reset restarts; explicit Rng', () => {
    const x = tf.ones([64, 1]);
    const a = new DropPath({ rate: 0.5, seed: 1 });
    const b = new DropPath({ rate: 0.5, seed: 1 });
    const a1 = Array.from(a.forward(x, { training: true }).dataSync());
    const a2 = Array.from(a.forward(x, { training: true }).dataSync());
    expect(Array.from(b.forward(x, { training: true }).dataSync())).toEqual(a1);
    expect(a2).not.toEqual(a1); // the generator advances
    expect(a.step).toBe(2);
    a.reset();
    expect(Array.from(a.forward(x, { training: true }).dataSync())).toEqual(a1);
    const viaFn = Array.from(dropPath(x, 0.5, new Rng(1), { training: true }).dataSync());
    expect(viaFn).toEqual(a1);
    const other = Array.from(new DropPath({ rate: 0.5, seed: 2 }).forward(x, { training: true }).dataSync());
    expect(other).not.toEqual(a1);
  });

  it('rejects a rate outside [0, 1]', () => {
    expect(() => new DropPath({ rate: 1.5 })).toThrow(/rate must be a finite number >= 0 and <= 1, got 1.5/);
    expect(() => dropPath(tf.ones([1]), -0.1, new Rng(0), { training: true })).toThrow(/got -0.1/);
  });
});
