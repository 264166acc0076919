import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { allCaptions, caption, comboIndex, isHeldOut, makeShapes, NUM_COMBOS } from '../../examples/lib/shapes.js';

describe('examples/lib/shapes', () => {
  it('images in [0, 1], captions match the labels, splits never share a combination', () => {
    const before = tf.memory().numTensors;
    for (const split of ['train', 'heldout'] as const) {
      const s = makeShapes({ n: 40, imgSize: 16, seed: 3, split });
      expect(s.images.shape).toEqual([40, 16, 16, 3]);
      const v = s.images.dataSync();
      expect(v.every((x) => x >= 0 && x <= 1)).toBe(true);
      for (let i = 0; i < 40; i++) {
        expect(s.captions[i]).toBe(caption(s.colour[i]!, s.shape[i]!, s.position[i]!));
        expect(isHeldOut(s.colour[i]!, s.shape[i]!, s.position[i]!)).toBe(split === 'heldout');
      }
      s.images.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('deterministic per seed; 64 distinct captions, 16 held out', () => {
    const a = makeShapes({ n: 4, seed: 9, split: 'train' });
    const b = makeShapes({ n: 4, seed: 9, split: 'train' });
    expect(Array.from(a.images.dataSync())).toEqual(Array.from(b.images.dataSync()));
    tf.dispose([a.images, b.images]);
    const all = allCaptions();
    expect(all.length).toBe(NUM_COMBOS);
    expect(new Set(all).size).toBe(64);
    expect(all[comboIndex(0, 0, 0)]).toBe('a red circle on the left');
    let held = 0;
    for (let c = 0; c < 4; c++) for (let s = 0; s < 4; s++) for (let p = 0; p < 4; p++) held += isHeldOut(c, s, p) ? 1 : 0;
    expect(held).toBe(16);
    expect(() => makeShapes({ n: 0, seed: 1, split: 'train' })).toThrow(/n must be a positive integer, got 0/);
  });
});
