import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CLIP } from '../../src/index.js';
import { hostValues } from '../../src/utils/host_values.js';

/** Counts `t.dataSync()` calls (the library's synchronous reads of `t`) while `fn` runs. */
function countReads(tensors: tf.Tensor[], fn: () => void): number[] {
  const counts = tensors.map(() => 0);
  const originals = tensors.map((t) => t.dataSync);
  tensors.forEach((t, i) => {
    t.dataSync = function <D extends tf.DataType>(this: tf.Tensor) {
      counts[i]!++;
      return originals[i]!.call(this) as tf.DataTypeMap[D];
    };
  });
  try {
    fn();
  } finally {
    tensors.forEach((t, i) => {
      t.dataSync = originals[i]!;
    });
  }
  return counts;
}

describe('hostValues', () => {
  it('reads a tensor once and returns the same values after that; a Variable is read every time', () => {
    const t = tf.tensor1d([3, 1, 2], 'int32');
    const reads = countReads([t], () => {
      expect(Array.from(hostValues(t))).toEqual([3, 1, 2]);
      expect(Array.from(hostValues(t))).toEqual([3, 1, 2]);
    });
    expect(reads).toEqual([1]);
    const v = tf.variable(tf.tensor1d([1, 2]));
    expect(Array.from(hostValues(v))).toEqual([1, 2]);
    v.assign(tf.tensor1d([5, 6]));
    expect(Array.from(hostValues(v))).toEqual([5, 6]);
    tf.dispose([t, v]);
  });

  it("CLIP's loss reads its token ids once over several steps and never reads the logit scale (GPU backends: no synchronous read back per step)", () => {
    const clip = new CLIP({
      embedDim: 8,
      vision: { imageSize: 8, patchSize: 4, width: 8, layers: 1, headWidth: 4 },
      text: { contextLength: 4, vocabSize: 10, width: 8, heads: 2, layers: 1 },
    });
    const imgs = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 1);
    const ids = tf.tensor2d([[1, 2, 9, 0], [3, 9, 0, 0]], [2, 4], 'int32');
    const scale = clip.logitScale.read();
    const before = tf.memory().numTensors;
    const reads = countReads([ids, scale], () => {
      for (let i = 0; i < 3; i++) tf.dispose(clip.loss(imgs, ids));
    });
    expect(tf.memory().numTensors).toBe(before);
    // ids: one read (validation and the end-of-text pooling share it); the logit scale: none.
    expect(reads).toEqual([1, 0]);
    tf.dispose([imgs, ids]);
    clip.dispose();
  });
});
