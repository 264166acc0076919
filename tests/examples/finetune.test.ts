/** The example evaluations' closed-form linear probe, on cases with known answers. */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ridgeProbeAccuracy, snapshotWeights } from '../../examples/lib/finetune.js';
import { Rng, VisionTransformer } from '../../src/index.js';

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

describe('snapshotWeights', () => {
  it('restores every weight after changes, and frees its copies on dispose', () => {
    const m = new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, seed: 3 });
    const before = new Map([...m.namedWeights()].map(([k, w]) => [k, Array.from(w.read().dataSync())]));
    const n0 = tf.memory().numTensors;
    const snap = snapshotWeights(m);
    for (const w of m.namedWeights().values()) {
      const t = tf.add(w.read(), 1);
      w.write(t);
      t.dispose();
    }
    const changed = [...m.namedWeights()].filter(([k, w]) => Array.from(w.read().dataSync())[0] !== before.get(k)![0]);
    expect(changed.length).toBe(m.namedWeights().size);
    snap.restore();
    for (const [k, w] of m.namedWeights()) expect(Array.from(w.read().dataSync())).toEqual(before.get(k));
    snap.dispose();
    expect(tf.memory().numTensors).toBe(n0);
    m.dispose();
  });
});
