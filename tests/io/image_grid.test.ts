import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { imageGrid, maskedImage, pasteVisible, toImageData } from '../../src/io/image_grid.js';

describe('imageGrid', () => {
  it('lays out gray images with padding and background (hand example)', () => {
    const row = tf.tensor4d([0, 1, 0.5, 0.25, 1, 1, 1, 0], [2, 2, 2, 1]);
    const g = imageGrid([row], { padding: 1, background: 0 });
    expect([g.width, g.height, g.channels]).toEqual([7, 4, 1]);
    // prettier-ignore
    expect(Array.from(g.data)).toEqual([
      0, 0,   0,  0, 0,   0,   0,
      0, 0, 255,  0, 255, 255, 0,
      0, 128, 64, 0, 255, 0,   0,
      0, 0,   0,  0, 0,   0,   0,
    ]);
    row.dispose();
  });

  it('stacks rows, promotes gray to RGB, leaves short rows as background', () => {
    const gray = tf.fill([2, 1, 1, 1], 0.5);
    const rgb = tf.tensor4d([1, 0, 0.2], [1, 1, 1, 3]);
    const g = imageGrid([gray, rgb], { padding: 0, background: [0, 0, 1] });
    expect([g.width, g.height, g.channels]).toEqual([2, 2, 3]);
    expect(Array.from(g.data)).toEqual([128, 128, 128, 128, 128, 128, 255, 0, 51, 0, 0, 255]);
    tf.dispose([gray, rgb]);
  });

  it('maps valueRange, clamps out-of-range values, maps NaN to 0, and denormalizes', () => {
    const x = tf.tensor4d([-1, 0, 1, 3, NaN], [1, 1, 5, 1]);
    const g = imageGrid([x], { padding: 0, valueRange: [-1, 1] });
    expect(Array.from(g.data)).toEqual([0, 128, 255, 255, 0]);
    const n = tf.tensor4d([0, 1, -1], [1, 1, 3, 1]);
    const d = imageGrid([n], { padding: 0, denormalize: { mean: [0.5], std: [0.25] } });
    expect(Array.from(d.data)).toEqual([128, 191, 64]);
    tf.dispose([x, n]);
  });

  it('RGBA rows give 4 channels with opaque alpha elsewhere', () => {
    const rgba = tf.tensor4d([0, 0, 0, 0.5], [1, 1, 1, 4]);
    const gray = tf.ones([1, 1, 1, 1]);
    const g = imageGrid([rgba, gray], { padding: 1, background: 0 });
    expect([g.width, g.height, g.channels]).toEqual([3, 5, 4]);
    const px = (x: number, y: number): number[] => Array.from(g.data.subarray((y * 3 + x) * 4, (y * 3 + x) * 4 + 4));
    expect(px(1, 1)).toEqual([0, 0, 0, 128]);
    expect(px(1, 3)).toEqual([255, 255, 255, 255]);
    expect(px(0, 0)).toEqual([0, 0, 0, 255]);
    tf.dispose([rgba, gray]);
  });

  it('allocates no tensors', () => {
    const x = tf.randomUniform([3, 4, 4, 3]);
    const before = tf.memory().numTensors;
    imageGrid([x, x]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('rejects bad input naming parameter, value and expectation', () => {
    const a = tf.zeros([1, 4, 4, 1]);
    const b = tf.zeros([1, 4, 5, 1]);
    const c = tf.zeros([1, 4, 4, 2]);
    const r3 = tf.zeros([4, 4, 1]);
    expect(() => imageGrid([])).toThrow(/rows must be a non-empty array/);
    expect(() => imageGrid([r3])).toThrow(/rows\[0\] must be a rank-4 \[B, H, W, C\] tensor, got shape \[4,4,1\]/);
    expect(() => imageGrid([a, b])).toThrow(/rows\[1\] has images of 4x5, expected 4x4/);
    expect(() => imageGrid([c])).toThrow(/rows\[0\] has 2 channels .* expected 1, 3 or 4/);
    expect(() => imageGrid([a], { padding: -1 })).toThrow(/padding must be a non-negative integer, got -1/);
    expect(() => imageGrid([a], { valueRange: [1, 0] })).toThrow(/valueRange must be \[lo, hi\] with finite lo < hi, got \[1,0\]/);
    expect(() => imageGrid([a], { background: [0, 0, 0] })).toThrow(/background must be a number or 1 finite numbers/);
    expect(() => imageGrid([a], { denormalize: { mean: [0, 0], std: [1] } })).toThrow(/denormalize.mean\/std must have 1 values/);
    tf.dispose([a, b, c, r3]);
  });
});

describe('toImageData', () => {
  const saved = (globalThis as { ImageData?: unknown }).ImageData;
  afterEach(() => {
    (globalThis as { ImageData?: unknown }).ImageData = saved;
  });

  it('returns a plain RGBA object without a global ImageData', () => {
    (globalThis as { ImageData?: unknown }).ImageData = undefined;
    const r = toImageData({ width: 2, height: 1, channels: 1, data: new Uint8Array([10, 200]) });
    expect(r.data).toBeInstanceOf(Uint8ClampedArray);
    expect([r.width, r.height]).toEqual([2, 1]);
    expect(Array.from(r.data)).toEqual([10, 10, 10, 255, 200, 200, 200, 255]);
    const rgb = toImageData({ width: 1, height: 1, channels: 3, data: new Uint8Array([1, 2, 3]) });
    expect(Array.from(rgb.data)).toEqual([1, 2, 3, 255]);
  });

  it('builds a real ImageData when the runtime has one', () => {
    class FakeImageData {
      constructor(
        public data: Uint8ClampedArray,
        public width: number,
        public height: number,
      ) {}
    }
    (globalThis as { ImageData?: unknown }).ImageData = FakeImageData;
    const r = toImageData({ width: 1, height: 1, channels: 4, data: new Uint8Array([1, 2, 3, 4]) });
    expect(r).toBeInstanceOf(FakeImageData);
    expect(Array.from(r.data)).toEqual([1, 2, 3, 4]);
  });

  it('rejects a grid whose data does not match its size', () => {
    expect(() => toImageData({ width: 2, height: 2, channels: 3, data: new Uint8Array(3) })).toThrow(
      /grid.data has 3 bytes, expected width\*height\*channels = 12/,
    );
  });
});

describe('maskedImage / pasteVisible', () => {
  // A 4x4 one-channel image with values 0..15 and patch size 2: a 2x2 grid.
  const img = (): tf.Tensor4D => tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);

  it('fills removed patches (mask 1) in row-major grid order', () => {
    const x = img();
    const mask = tf.tensor2d([[1, 0, 0, 1]]);
    const before = tf.memory().numTensors;
    const out = maskedImage(x, mask, 2, { fill: -1 });
    expect(tf.memory().numTensors).toBe(before + 1);
    // prettier-ignore
    expect(Array.from(out.dataSync())).toEqual([
      -1, -1, 2, 3,
      -1, -1, 6, 7,
      8, 9, -1, -1,
      12, 13, -1, -1,
    ]);
    tf.dispose([x, mask, out]);
  });

  it('works on non-square RGB images with bool masks and per-channel fill', () => {
    const x = tf.zeros([2, 2, 4, 3]);
    const mask = tf.tensor2d([[false, true], [true, false]], [2, 2], 'bool');
    const out = maskedImage(x, mask, 2, { fill: [1, 2, 3] });
    const v = out.arraySync() as number[][][][];
    expect(v[0]![0]![0]).toEqual([0, 0, 0]);
    expect(v[0]![1]![3]).toEqual([1, 2, 3]);
    expect(v[1]![1]![1]).toEqual([1, 2, 3]);
    expect(v[1]![0]![2]).toEqual([0, 0, 0]);
    expect(tf.sum(out).dataSync()[0]).toBe(2 * 4 * 6);
    tf.dispose([x, mask, out]);
  });

  it('pastes the visible patches of the original into the prediction', () => {
    const x = img();
    const pred = tf.fill([1, 4, 4, 1], 100);
    const mask = tf.tensor2d([[0, 1, 1, 0]], [1, 4], 'int32');
    const before = tf.memory().numTensors;
    const out = pasteVisible(pred, x, mask, 2);
    expect(tf.memory().numTensors).toBe(before + 1);
    // prettier-ignore
    expect(Array.from(out.dataSync())).toEqual([
      0, 1, 100, 100,
      4, 5, 100, 100,
      100, 100, 10, 11,
      100, 100, 14, 15,
    ]);
    tf.dispose([x, pred, mask, out]);
  });

  it('rejects bad shapes before any tensor work', () => {
    const x = img();
    const m = tf.zeros([1, 4]);
    const before = tf.memory().numTensors;
    expect(() => maskedImage(x, m, 3)).toThrow(/image size 4x4 is not divisible by patchSize 3/);
    expect(() => maskedImage(x, m, 0)).toThrow(/patchSize must be a positive integer, got 0/);
    expect(() => maskedImage(x, m, 1)).toThrow(/mask must be \[B, L\] = \[1, 16\] .* got shape \[1,4\]/);
    expect(() => maskedImage(x, m, 2, { fill: [1, 2] })).toThrow(/fill must be a finite number or 1 finite numbers/);
    expect(() => maskedImage(tf.zeros([4, 4]) as tf.Tensor, m, 2)).toThrow(/imgs must be a \[B, H, W, C\] tensor, got shape \[4,4\]/);
    expect(() => pasteVisible(tf.zeros([1, 4, 4, 3]), x, m, 2)).toThrow(/pred must have the shape of imgs \[1,4,4,1\]/);
    expect(tf.memory().numTensors).toBe(before + 2); // only the two zeros made in this test
    tf.dispose([x, m]);
  });
});
