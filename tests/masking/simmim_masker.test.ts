import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SimMIMMasker } from '../../src/masking/index.js';
import { Rng } from '../../src/utils/random.js';

class ScriptedRng extends Rng {
  private readonly draws: number[];
  constructor(draws: number[]) {
    super(0);
    this.draws = draws.slice();
  }
  override uniform(): number {
    const v = this.draws.shift();
    if (v === undefined) throw new Error('ScriptedRng: out of draws');
    return v;
  }
}

describe('SimMIMMasker', () => {
  it('defaults follow SimMIM: 192 px, 32 px units, patch 4, ratio 0.6', () => {
    const m = new SimMIMMasker();
    expect(m.getConfig()).toEqual({ inputSize: [192, 192], maskPatchSize: 32, modelPatchSize: 4, maskRatio: 0.6 });
    expect(m.tokenCount).toBe(36);
    expect(m.maskCount).toBe(22); // ceil(21.6)
    expect(m.scale).toBe(8);
    expect(m.gridShape).toEqual([48, 48]);
  });

  it('hand example: chosen units repeated by scale at the model patch grid', () => {
    // 8 px image, 4 px units (2 x 2 units), 2 px patches (scale 2), ratio 0.5 -> 2 units.
    // Fisher-Yates on [0,1,2,3] with draws 0,0,0 -> [1,2,3,0]: units 1 and 2 masked.
    const m = new SimMIMMasker({ inputSize: 8, maskPatchSize: 4, modelPatchSize: 2, maskRatio: 0.5 });
    const a = m.maskArrays(1, new ScriptedRng([0, 0, 0]));
    expect(Array.from(a.maskedUnits)).toEqual([1, 2]);
    expect(Array.from(a.mask)).toEqual([
      0, 0, 1, 1,
      0, 0, 1, 1,
      1, 1, 0, 0,
      1, 1, 0, 0,
    ]);
  });

  it('exact counts and unit structure on several configs (incl. non-square)', () => {
    for (const [cfg, units, grid] of [
      [{}, 22, [48, 48]],
      [{ inputSize: 224, maskPatchSize: 32, modelPatchSize: 16, maskRatio: 0.6 }, 30, [14, 14]],
      [{ inputSize: [64, 96] as [number, number], maskPatchSize: 32, modelPatchSize: 16, maskRatio: 0.5 }, 3, [4, 6]],
      [{ inputSize: 32, maskPatchSize: 2, modelPatchSize: 2, maskRatio: 0.75 }, 192, [16, 16]],
    ] as const) {
      const m = new SimMIMMasker(cfg);
      expect(m.maskCount).toBe(units);
      const a = m.maskArrays(5, 3);
      expect([a.gridHeight, a.gridWidth]).toEqual(grid);
      const n = grid[0] * grid[1];
      const s = m.scale;
      for (let b = 0; b < 5; b++) {
        const row = a.mask.subarray(b * n, (b + 1) * n);
        expect(row.reduce((x, y) => x + y, 0)).toBe(units * s * s);
        // rebuild from the listed units, independently
        const want = new Uint8Array(n);
        const unitsB = Array.from(a.maskedUnits.subarray(b * units, (b + 1) * units));
        expect(new Set(unitsB).size).toBe(units);
        for (const u of unitsB) {
          const ur = Math.floor(u / m.randWidth), uc = u % m.randWidth;
          for (let r = 0; r < s; r++) for (let c = 0; c < s; c++) want[(ur * s + r) * grid[1] + uc * s + c] = 1;
        }
        expect(Array.from(row)).toEqual(Array.from(want));
      }
    }
  });

  it('is deterministic per seed; tensors match arrays and are the caller\'s', () => {
    const m = new SimMIMMasker({ inputSize: 224, maskPatchSize: 32, modelPatchSize: 16 });
    const a = m.maskArrays(3, 42);
    expect(Array.from(m.maskArrays(3, 42).mask)).toEqual(Array.from(a.mask));
    expect(Array.from(m.maskArrays(3, 43).mask)).not.toEqual(Array.from(a.mask));
    const before = tf.memory().numTensors;
    const t = m.mask(3, 42);
    expect(t.mask.shape).toEqual([3, 14, 14]);
    expect(t.maskFlat.shape).toEqual([3, 196]);
    expect(Array.from(t.mask.dataSync())).toEqual(Array.from(a.mask));
    expect(Array.from(t.maskFlat.dataSync())).toEqual(Array.from(a.mask));
    tf.dispose(t);
    expect(tf.memory().numTensors).toBe(before);
    const idx = SimMIMMasker.indexForm(a);
    expect(idx.lenKeep).toBe(196 - 120);
    for (let i = 0; i < idx.lenKeep; i++) expect(a.mask[idx.idsKeep[i]!]).toBe(0);
  });

  it('rejects bad options', () => {
    expect(() => new SimMIMMasker({ inputSize: 200 })).toThrow(/input height 200 is not divisible by maskPatchSize 32/);
    expect(() => new SimMIMMasker({ inputSize: [192, 200] })).toThrow(/input width 200 is not divisible by maskPatchSize 32/);
    expect(() => new SimMIMMasker({ maskPatchSize: 32, modelPatchSize: 12 })).toThrow(/maskPatchSize 32 must be a multiple of modelPatchSize 12/);
    expect(() => new SimMIMMasker({ maskRatio: 1 })).toThrow(/maskRatio must be a number in \[0, 1\), got 1/);
    expect(() => new SimMIMMasker({ modelPatchSize: 0 })).toThrow(/modelPatchSize must be a positive integer, got 0/);
    expect(() => new SimMIMMasker().maskArrays(-1, 0)).toThrow(/batchSize must be a positive integer, got -1/);
  });
});
