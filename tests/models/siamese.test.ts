import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SimSiam } from '../../src/models/simsiam.js';
import { BYOL } from '../../src/models/byol.js';
import { simsiamLoss } from '../../src/losses/simsiam.js';
import { byolLoss } from '../../src/losses/byol.js';
import { expectClose } from '../layers/helpers.js';
import { expectEveryGradient, expectThrowsEarly, train, uniformTensor } from './helpers.js';

const VIT = { imgSize: 8, patchSize: 4, inChans: 1, embedDim: 16, depth: 1, numHeads: 2 };
const views = (n: number) => [uniformTensor([n, 8, 8, 1], 1), uniformTensor([n, 8, 8, 1], 2)] as const;

describe('SimSiam', () => {
  it('one encoder for both views, predictor, symmetric stop-gradient loss; trains with a flat tensor count', () => {
    const m = new SimSiam({ ...VIT, dim: 8, predDim: 4, seed: 1 });
    const keys = [...m.namedWeights().keys()];
    expect(keys).toContain('encoder.head.6.bias');
    expect(keys).toContain('predictor.3.bias');
    const [x1, x2] = views(3);
    const out = m.forward(x1, x2);
    expect(out.p1.shape).toEqual([3, 8]);
    const want = simsiamLoss(out.p1, out.p2, out.z1, out.z2);
    expectClose(out.loss, want, 1e-6, 1e-6);
    tf.dispose([...Object.values(out), want]);
    expectEveryGradient(m, () => m.forward(x1, x2).loss);
    const { counts, losses } = train(m, () => m.forward(x1, x2).loss, 3, 1e-3);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(new Set(counts).size).toBe(1);
    const short = uniformTensor([2, 8, 8, 1], 3);
    expectThrowsEarly(() => m.forward(x1, short), /x1 and x2 must be two views of the same batch \(same shape\), got \[3,8,8,1\] and \[2,8,8,1\]/);
    tf.dispose([x1, x2, short]);
    m.dispose();
  });
});

describe('BYOL', () => {
  it('target starts as a copy, gets no gradient, follows the online encoder by EMA', () => {
    const m = new BYOL({ ...VIT, projectionSize: 8, hiddenSize: 12, seed: 2 });
    const on = m.onlineEncoder.namedWeights();
    for (const [k, w] of m.targetEncoder.namedWeights()) expect(Array.from(w.read().dataSync()), k).toEqual(Array.from(on.get(k)!.read().dataSync()));
    expect(m.targetEncoder.trainableWeights.length).toBe(0);
    const [x1, x2] = views(4);
    const out = m.forward(x1, x2);
    expectClose(out.loss, byolLoss(out.p1, out.p2, out.z1, out.z2), 1e-6, 1e-6);
    tf.dispose(Object.values(out));
    const names = expectEveryGradient(m, () => m.forward(x1, x2).loss);
    expect(names.some((k) => k.startsWith('target_encoder.'))).toBe(false);
    const { counts } = train(m, () => m.forward(x1, x2).loss, 3, 1e-2);
    expect(new Set(counts).size).toBe(1);
    const key = 'blocks.0.attn.qkv.weight';
    const t0 = Array.from(m.targetEncoder.namedWeights().get(key)!.read().dataSync());
    const o0 = Array.from(on.get(key)!.read().dataSync());
    expect(t0).not.toEqual(o0);
    m.updateTarget(0.5);
    expectClose(m.targetEncoder.namedWeights().get(key)!.read(), t0.map((v, i) => 0.5 * v + 0.5 * o0[i]!), 1e-6, 1e-6);
    expectThrowsEarly(() => m.updateTarget(2), /m must be a number in \[0, 1\], got 2/);
    expect(() => new BYOL({ ...VIT, momentum: -1 })).toThrow(/momentum must be a number in \[0, 1\], got -1/);
    tf.dispose([x1, x2]);
    m.dispose();
  });
});
