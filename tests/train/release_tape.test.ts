import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { MAE, releaseTapeEarly } from '../../src/index.js';

/**
 * `releaseTapeEarly` (what `trainStep` calls at the end of the loss) must
 * leave every gradient bit-identical, keep nothing alive afterwards, and
 * lower the peak memory of the backward pass.
 */
async function run(release: boolean, model: MAE, x: tf.Tensor4D): Promise<{ grads: Float32Array[]; loss: number; peak: number; after: number }> {
  const vars = model.trainableVariables();
  const before = tf.memory().numTensors;
  let grads: Float32Array[] = [];
  let loss = NaN;
  const profile = await tf.profile(() => {
    const r = tf.variableGrads(() => {
      const l = model.forward(x, { seed: 5 }).loss;
      if (release) releaseTapeEarly();
      return l;
    }, vars);
    grads = vars.map((v) => r.grads[v.name]!.dataSync() as Float32Array);
    loss = r.value.dataSync()[0]!;
    tf.dispose([r.value, ...Object.values(r.grads)]);
  });
  return { grads, loss, peak: profile.peakBytes, after: tf.memory().numTensors - before };
}

describe('releaseTapeEarly', () => {
  for (const checkpointing of [false, true]) {
    it(`checkpointing=${checkpointing}: identical gradients, nothing left behind, lower peak memory`, async () => {
      const model = new MAE({
        imgSize: 16, patchSize: 2, embedDim: 32, depth: 4, numHeads: 2,
        decoderEmbedDim: 16, decoderDepth: 2, decoderNumHeads: 2, mlpRatio: 2, seed: 1, checkpointing,
      });
      const x = tf.randomUniform([4, 16, 16, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
      const plain = await run(false, model, x);
      const early = await run(true, model, x);
      expect(early.loss).toBe(plain.loss);
      expect(early.grads.length).toBe(plain.grads.length);
      early.grads.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(plain.grads[i]!)));
      expect(plain.after).toBe(0);
      expect(early.after).toBe(0);
      // Saved forward tensors and consumed gradients go as the backward pass moves on.
      expect(early.peak).toBeLessThan((checkpointing ? 0.95 : 0.8) * plain.peak);
      x.dispose();
      model.dispose();
    });
  }

  it('keeps a gradient that a node passes through as its input gradient', () => {
    // customGrad returning dy itself: the released dy is also the input's gradient.
    const passThrough = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
      save([a]);
      return { value: tf.mul(a, 1), gradFunc: (dy: tf.Tensor) => dy };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor) => tf.Tensor;
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const { value, grads } = tf.variableGrads(() => {
      const y = tf.sum(tf.square(passThrough(passThrough(v))));
      releaseTapeEarly();
      return y as tf.Scalar;
    }, [v]);
    expect(Array.from(grads[v.name]!.dataSync())).toEqual([2, 4, 6]);
    tf.dispose([value, ...Object.values(grads)]);
    v.dispose();
  });

  it('does nothing outside a gradient computation', () => {
    const before = tf.memory().numTensors;
    expect(() => releaseTapeEarly()).not.toThrow();
    expect(tf.memory().numTensors).toBe(before);
  });
});
