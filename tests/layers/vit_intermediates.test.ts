import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { VisionTransformer } from '../../src/models/vit.js';
import { expectClose } from './helpers.js';
import { expectThrowsEarly, uniformTensor } from '../models/helpers.js';

describe('VisionTransformer.forwardIntermediates', () => {
  const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, inChans: 1, embedDim: 8, depth: 3, numHeads: 2, seed: 5 });

  it("returns forward()'s tokens and each block's output (timm forward_intermediates), in tidy", () => {
    const x = uniformTensor([2, 8, 8, 1], 2);
    const before = tf.memory().numTensors;
    const r = tf.tidy(() => vit.forwardIntermediates(x));
    expect(r.intermediates.length).toBe(3);
    const full = vit.forward(x);
    expectClose(r.tokens, full, 1e-6, 1e-6);
    // By hand: the blocks one by one.
    const manual = tf.tidy(() => {
      let t: tf.Tensor = vit.prependClassToken(vit.embed(x));
      const outs: tf.Tensor[] = [];
      for (const b of vit.blocks) outs.push((t = b.forward(t).out));
      return outs;
    });
    manual.forEach((m, i) => expectClose(r.intermediates[i]!, m, 1e-6, 1e-6));
    const last2 = vit.forwardIntermediates(x, { indices: 2, norm: true });
    expect(last2.intermediates.length).toBe(2);
    const normed = vit.norm.forward(manual[1]!);
    expectClose(last2.intermediates[0]!, normed, 1e-6, 1e-6);
    const neg = vit.forwardIntermediates(x, { indices: [-1, 0] });
    expect(neg.intermediates.length).toBe(2);
    expectClose(neg.intermediates[0]!, manual[0]!, 1e-6, 1e-6); // block order
    tf.dispose([r.tokens, ...r.intermediates, full, ...manual, last2.tokens, ...last2.intermediates, normed, neg.tokens, ...neg.intermediates]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('bad indices and images throw before any tensor work', () => {
    const x = uniformTensor([1, 8, 8, 1], 2);
    expectThrowsEarly(() => vit.forwardIntermediates(x, { indices: 4 }), /integer in \[0, depth=3\], got 4/);
    expectThrowsEarly(() => vit.forwardIntermediates(x, { indices: [3] }), /block indices in \[-3, 2\] \(depth 3\), got \[3\]/);
    const bad = tf.zeros([8, 8, 1]);
    expectThrowsEarly(() => vit.forwardIntermediates(bad), /imgs must have rank 4/);
    tf.dispose([x, bad]);
  });
});
