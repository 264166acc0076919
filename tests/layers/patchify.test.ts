import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { patchify, unpatchify } from '../../src/layers/index.js';
import { seededNormal } from './helpers.js';

/** Independent loop reference of MAE's pixel order. */
function refPatchify(data: Float32Array, b: number, h: number, w: number, c: number, p: number): Float32Array {
  const gh = h / p;
  const gw = w / p;
  const out = new Float32Array(data.length);
  let o = 0;
  for (let s = 0; s < b; s++) {
    for (let R = 0; R < gh; R++) {
      for (let Q = 0; Q < gw; Q++) {
        for (let i = 0; i < p; i++) {
          for (let j = 0; j < p; j++) {
            for (let ch = 0; ch < c; ch++) out[o++] = data[((s * h + R * p + i) * w + Q * p + j) * c + ch]!;
          }
        }
      }
    }
  }
  return out;
}

describe('patchify / unpatchify', () => {
  it('flattens each patch as (row, column, channel), grid row-major (hand example)', () => {
    const imgs = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [1, 2, 4, 2]);
    const x = patchify(imgs, 2);
    expect(x.shape).toEqual([1, 2, 8]);
    expect(Array.from(x.dataSync())).toEqual([0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15]);
    tf.dispose([imgs, x]);
  });

  it.each([
    [2, 12, 8, 3, 4],
    [1, 6, 9, 1, 3],
    [3, 4, 4, 5, 2],
  ])('matches a loop reference and round-trips: B=%i H=%i W=%i C=%i p=%i', (b, h, w, c, p) => {
    const imgs = seededNormal([b, h, w, c], 7 + h);
    const before = tf.memory().numTensors;
    const x = patchify(imgs, p);
    expect(x.shape).toEqual([b, (h / p) * (w / p), p * p * c]);
    expect(Array.from(x.dataSync())).toEqual(
      Array.from(refPatchify(imgs.dataSync() as Float32Array, b, h, w, c, p)),
    );
    const back = unpatchify(x, p, h / p, w / p, c);
    expect(back.shape).toEqual([b, h, w, c]);
    expect(Array.from(back.dataSync())).toEqual(Array.from(imgs.dataSync()));
    tf.dispose([x, back]);
    expect(tf.memory().numTensors).toBe(before);
    imgs.dispose();
  });

  it('is differentiable (gradient of a weighted sum is the weights, unpatchified)', () => {
    const imgs = seededNormal([1, 4, 6, 2], 3);
    const wts = seededNormal([1, 6, 8], 4);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(patchify(x, 2), wts)))(imgs);
    const expected = unpatchify(wts, 2, 2, 3, 2);
    expect(Array.from(g.dataSync())).toEqual(Array.from(expected.dataSync()));
    tf.dispose([imgs, wts, g, expected]);
  });

  it('rejects bad input before any tensor work', () => {
    const imgs = tf.zeros([1, 10, 8, 3]);
    const rank3 = tf.zeros([10, 8, 3]);
    const x = tf.zeros([1, 4, 12]);
    const before = tf.memory().numTensors;
    expect(() => patchify(imgs, 4)).toThrow(/image size 10x8 .*not divisible by patch size 4/);
    expect(() => patchify(rank3, 2)).toThrow(/imgs must have rank 4 \[B, H, W, C\].*got shape \[10,8,3\]/);
    expect(() => patchify(imgs, 0)).toThrow(/patchSize must be a positive integer, got 0/);
    expect(() => unpatchify(x, 2, 2, 3, 3)).toThrow(/4 patches .*expected gridH\*gridW = 6/);
    expect(() => unpatchify(x, 2, 2, 2, 2)).toThrow(/12 features per patch .*expected p\*p\*channels = 8/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([imgs, rank3, x]);
  });
});
