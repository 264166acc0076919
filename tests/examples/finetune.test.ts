/** The example evaluations' closed-form linear probe, on cases with known answers. */
import { describe, expect, it } from 'vitest';
import { ridgeProbeAccuracy } from '../../examples/lib/finetune.js';
import { Rng } from '../../src/index.js';

describe('ridgeProbeAccuracy', () => {
  it('separates linearly separable classes and fails on a constant feature', () => {
    const r = new Rng(1);
    // Three classes at the corners of a triangle, noise well under the gap.
    const make = (n: number): { f: Float32Array; y: Int32Array } => {
      const f = new Float32Array(n * 2);
      const y = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        y[i] = i % 3;
        f[2 * i] = 5 * Math.cos((2 * Math.PI * y[i]!) / 3) + r.normal() * 0.3;
        f[2 * i + 1] = 5 * Math.sin((2 * Math.PI * y[i]!) / 3) + r.normal() * 0.3;
      }
      return { f, y };
    };
    const tr = make(300);
    const te = make(90);
    expect(ridgeProbeAccuracy(tr.f, tr.y, te.f, te.y, 3, 1e-4)).toBe(1);
    const constant = new Float32Array(300 * 2).fill(1);
    // A feature that says nothing: the bias picks one class for every image (a third right).
    expect(ridgeProbeAccuracy(constant, tr.y, new Float32Array(90 * 2).fill(1), te.y, 3)).toBeCloseTo(1 / 3, 5);
  });
});
