import { describe, expect, it } from 'vitest';
import { cosineMomentum, cosineSchedule, cosineScheduler } from '../../src/index.js';

describe('cosineSchedule (MAE adjust_learning_rate)', () => {
  const f = cosineSchedule({ baseLr: 1e-3, minLr: 1e-5, warmupSteps: 10, totalSteps: 110 });

  it('warms up linearly from 0 and follows the half cosine to minLr', () => {
    expect(f(0)).toBe(0);
    expect(f(5)).toBeCloseTo(5e-4, 15);
    expect(f(2.5)).toBeCloseTo(2.5e-4, 15); // fractional epochs, as MAE passes
    expect(f(10)).toBeCloseTo(1e-3, 15);
    // Midway through the cosine: exactly halfway between base and min.
    expect(f(60)).toBeCloseTo((1e-3 + 1e-5) / 2, 15);
    // A quarter in: min + (base - min) * (1 + cos(pi/4)) / 2.
    expect(f(35)).toBeCloseTo(1e-5 + (1e-3 - 1e-5) * (1 + Math.SQRT1_2) / 2, 15);
    expect(f(110)).toBeCloseTo(1e-5, 15);
    expect(f(500)).toBe(1e-5);
  });

  it('is monotone after warm-up and defaults to no warm-up and minLr 0', () => {
    const g = cosineSchedule({ baseLr: 2, totalSteps: 4 });
    expect([0, 1, 2, 3, 4].map(g).map((x) => Number(x.toFixed(12)))).toEqual([
      2,
      Number((1 + Math.SQRT1_2).toFixed(12)),
      1,
      Number((1 - Math.SQRT1_2).toFixed(12)),
      0,
    ]);
  });

  it('validates its config and t', () => {
    expect(() => cosineSchedule({ baseLr: -1, totalSteps: 10 })).toThrow(/baseLr must be a finite number >= 0, got -1/);
    expect(() => cosineSchedule({ baseLr: 1, totalSteps: 0 })).toThrow(/totalSteps must be a finite number > 0, got 0/);
    expect(() => cosineSchedule({ baseLr: 1, warmupSteps: 10, totalSteps: 10 })).toThrow(/totalSteps must be > warmupSteps=10, got 10/);
    expect(() => f(-1)).toThrow(/t must be a finite number >= 0, got -1/);
  });
});

describe('cosineScheduler (DINO/BEiT utils.cosine_scheduler)', () => {
  it('matches numpy: linspace warm-up then cosine over the remaining iterations', () => {
    // cosine_scheduler(1.0, 0.0, epochs=3, niter_per_ep=2, warmup_epochs=1, start_warmup_value=0.5):
    // warm-up linspace(0.5, 1.0, 2) = [0.5, 1.0]; then i = 0..3 of n = 4: 0.5 * (1 + cos(pi i / 4)).
    const s = cosineScheduler({ baseValue: 1, finalValue: 0, epochs: 3, nIterPerEpoch: 2, warmupEpochs: 1, startWarmupValue: 0.5 });
    const want = [0.5, 1, 1, 0.5 * (1 + Math.SQRT1_2), 0.5, 0.5 * (1 - Math.SQRT1_2)];
    expect(s.length).toBe(6);
    s.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 14));
  });

  it('gives DINO teacher momentum 0.996 -> 1 and BEiT warmup_steps', () => {
    const m = cosineScheduler({ baseValue: 0.996, finalValue: 1, epochs: 2, nIterPerEpoch: 5 });
    expect(m.length).toBe(10);
    expect(m[0]).toBe(0.996);
    for (let i = 1; i < m.length; i++) expect(m[i]!).toBeGreaterThan(m[i - 1]!);
    expect(m[9]!).toBeLessThan(1);
    expect(m[5]).toBeCloseTo(0.998, 14);
    const w = cosineScheduler({ baseValue: 1, finalValue: 1, epochs: 2, nIterPerEpoch: 5, warmupEpochs: 1, warmupSteps: 3 });
    expect(w.slice(0, 3)).toEqual([0, 0.5, 1]);
    expect(w.length).toBe(10);
  });

  it('validates', () => {
    expect(() => cosineScheduler({ baseValue: 1, finalValue: 0, epochs: 1.5, nIterPerEpoch: 2 })).toThrow(/epochs must be an integer >= 0, got 1.5/);
    expect(() => cosineScheduler({ baseValue: 1, finalValue: 0, epochs: 1, nIterPerEpoch: 2, warmupEpochs: 2 })).toThrow(/warm-up of 4 iterations must not exceed epochs \* nIterPerEpoch = 2/);
    expect(() => cosineScheduler({ baseValue: Number.NaN, finalValue: 0, epochs: 1, nIterPerEpoch: 2 })).toThrow(/baseValue must be a finite number/);
  });
});

describe('cosineMomentum (BYOL / DINO)', () => {
  it('rises from base to 1 along a half cosine', () => {
    expect(cosineMomentum(0.996, 0, 100)).toBeCloseTo(0.996, 15);
    expect(cosineMomentum(0.996, 50, 100)).toBeCloseTo(0.998, 15);
    expect(cosineMomentum(0.99, 25, 100)).toBeCloseTo(1 - 0.01 * (Math.SQRT1_2 + 1) / 2, 15);
    expect(cosineMomentum(0.996, 100, 100)).toBe(1);
  });
  it('validates', () => {
    expect(() => cosineMomentum(1.5, 0, 10)).toThrow(/base must be in \[0, 1\], got 1.5/);
    expect(() => cosineMomentum(0.9, 11, 10)).toThrow(/step must be in \[0, total=10\], got 11/);
    expect(() => cosineMomentum(0.9, 0, 0)).toThrow(/total must be a finite number > 0, got 0/);
  });
});
