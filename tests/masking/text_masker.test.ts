import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { TextMasker } from '../../src/masking/index.js';
import { Rng } from '../../src/utils/random.js';

const CLS = 0, SEP = 2, PAD = 1, MASK = 3;
const VOCAB = 30000;

/** B sequences of T tokens: CLS, words in [10, VOCAB), SEP, then PAD for the last `pad`. */
function batch(B: number, T: number, pad: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const ids = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      let v: number;
      if (t === 0) v = CLS;
      else if (t === T - pad - 1) v = SEP;
      else if (t >= T - pad) v = PAD;
      else v = rng.randint(10, VOCAB - 1);
      ids[b * T + t] = v;
    }
  }
  return ids;
}

const specials = [CLS, SEP, PAD];

describe('TextMasker', () => {
  it('BERT proportions over many tokens: 15% selected, 80/10/10, specials never touched', () => {
    const m = new TextMasker({ vocabSize: VOCAB, maskTokenId: MASK, specialTokenIds: specials });
    const [B, T, pad] = [64, 256, 40];
    const ids = batch(B, T, pad, 1);
    const a = m.maskArrays(ids, T, 7);
    let cand = 0, sel = 0, toMask = 0, toRandom = 0, same = 0;
    for (let i = 0; i < ids.length; i++) {
      const special = specials.includes(ids[i]!);
      if (special) {
        expect(a.mask[i]).toBe(0);
        expect(a.inputIds[i]).toBe(ids[i]);
        expect(a.labels[i]).toBe(-100);
        continue;
      }
      cand++;
      if (a.mask[i] === 0) {
        expect(a.inputIds[i]).toBe(ids[i]);
        expect(a.labels[i]).toBe(-100);
        continue;
      }
      sel++;
      expect(a.labels[i]).toBe(ids[i]);
      if (a.inputIds[i] === MASK) toMask++;
      else if (a.inputIds[i] === ids[i]) same++;
      else toRandom++;
      expect(a.inputIds[i]).toBeGreaterThanOrEqual(0);
      expect(a.inputIds[i]).toBeLessThan(VOCAB);
    }
    expect(cand).toBe(B * (T - pad - 2));
    // binomial sd: sqrt(n p (1 - p)); allow 4 sd
    const tol = (n: number, p: number) => 4 * Math.sqrt(n * p * (1 - p));
    expect(Math.abs(sel - 0.15 * cand)).toBeLessThan(tol(cand, 0.15));
    expect(Math.abs(toMask - 0.8 * sel)).toBeLessThan(tol(sel, 0.8));
    expect(Math.abs(toRandom - 0.1 * sel)).toBeLessThan(tol(sel, 0.1) + 2);
    expect(Math.abs(same - 0.1 * sel)).toBeLessThan(tol(sel, 0.1) + 2);
  });

  it('exact selection masks round(maskProb * n) non-special tokens per sequence', () => {
    const m = new TextMasker({ vocabSize: VOCAB, maskTokenId: MASK, specialTokenIds: specials, selection: 'exact', maskProb: 0.5 });
    for (const [T, pad] of [[32, 5], [17, 0], [9, 6]] as const) {
      const ids = batch(8, T, pad, 3);
      const a = m.maskArrays(ids, T, 9);
      const n = T - pad - 2;
      for (let b = 0; b < 8; b++) {
        let c = 0;
        for (let t = 0; t < T; t++) {
          c += a.mask[b * T + t]!;
          if (specials.includes(ids[b * T + t]!)) expect(a.mask[b * T + t]).toBe(0);
        }
        expect(c).toBe(Math.round(0.5 * n));
      }
    }
  });

  it('hand example with all selected tokens masked: labels and ids', () => {
    const m = new TextMasker({ vocabSize: 100, maskTokenId: MASK, specialTokenIds: [CLS, SEP], selection: 'exact', maskProb: 1, replaceWithMask: 1, replaceWithRandom: 0, ignoreIndex: -1 });
    const a = m.maskArrays([CLS, 50, 51, 52, SEP], 5, 1);
    expect(Array.from(a.inputIds)).toEqual([CLS, MASK, MASK, MASK, SEP]);
    expect(Array.from(a.labels)).toEqual([-1, 50, 51, 52, -1]);
    expect(Array.from(a.mask)).toEqual([0, 1, 1, 1, 0]);
    // replaceWithMask 0 and replaceWithRandom 0: selected tokens stay unchanged but are still predicted
    const keep = new TextMasker({ vocabSize: 100, maskTokenId: MASK, selection: 'exact', maskProb: 1, replaceWithMask: 0, replaceWithRandom: 0 });
    const k = keep.maskArrays([5, 6], 2, 1);
    expect(Array.from(k.inputIds)).toEqual([5, 6]);
    expect(Array.from(k.labels)).toEqual([5, 6]);
  });

  it('is deterministic per seed; tensor and row inputs agree with arrays', () => {
    const m = new TextMasker({ vocabSize: VOCAB, maskTokenId: MASK, specialTokenIds: specials });
    const ids = batch(4, 64, 8, 2);
    const a = m.maskArrays(ids, 64, 5);
    const b = m.maskArrays(ids, 64, 5);
    expect(Array.from(b.inputIds)).toEqual(Array.from(a.inputIds));
    expect(Array.from(b.mask)).toEqual(Array.from(a.mask));
    expect(Array.from(m.maskArrays(ids, 64, 6).mask)).not.toEqual(Array.from(a.mask));
    const t = tf.tensor2d(ids, [4, 64], 'int32');
    const before = tf.memory().numTensors;
    const r = m.mask(t, 5);
    expect(r.inputIds.dtype).toBe('int32');
    expect(r.labels.dtype).toBe('int32');
    expect(r.mask.dtype).toBe('float32');
    expect(Array.from(r.inputIds.dataSync())).toEqual(Array.from(a.inputIds));
    expect(Array.from(r.labels.dataSync())).toEqual(Array.from(a.labels));
    expect(Array.from(r.mask.dataSync())).toEqual(Array.from(a.mask));
    tf.dispose(r);
    expect(tf.memory().numTensors).toBe(before);
    const rows: number[][] = [];
    for (let i = 0; i < 4; i++) rows.push(Array.from(ids.subarray(i * 64, (i + 1) * 64)));
    const r2 = m.mask(rows, 5);
    expect(Array.from(r2.labels.dataSync())).toEqual(Array.from(a.labels));
    tf.dispose([t, r2]);
    expect(Array.from(ids)).toEqual(Array.from(batch(4, 64, 8, 2))); // input untouched
  });

  it('rejects bad options and inputs', () => {
    expect(() => new TextMasker({ vocabSize: 0, maskTokenId: 0 })).toThrow(/vocabSize must be a positive integer, got 0/);
    expect(() => new TextMasker({ vocabSize: 10, maskTokenId: 10 })).toThrow(/maskTokenId 10 must be < vocabSize 10/);
    expect(() => new TextMasker({ vocabSize: 10, maskTokenId: 1, maskProb: 1.5 })).toThrow(/maskProb must be a number in \[0, 1\], got 1.5/);
    expect(() => new TextMasker({ vocabSize: 10, maskTokenId: 1, replaceWithMask: 0.9, replaceWithRandom: 0.2 })).toThrow(/replaceWithMask 0.9 \+ replaceWithRandom 0.2 must be <= 1/);
    expect(() => new TextMasker({ vocabSize: 10, maskTokenId: 1, specialTokenIds: [0, 1.5] })).toThrow(/specialTokenIds\[1\] must be/);
    expect(() => new TextMasker({ vocabSize: 10, maskTokenId: 1, selection: 'all' as 'exact' })).toThrow(/selection must be 'bernoulli' or 'exact', got all/);
    const m = new TextMasker({ vocabSize: 10, maskTokenId: 1 });
    expect(() => m.maskArrays([1, 2, 3], 2, 1)).toThrow(/ids length 3 must be a positive multiple of seqLen 2/);
    expect(() => m.maskArrays([1, 2.5], 2, 1)).toThrow(/ids must be integers, got 2.5 at flat index 1/);
    expect(() => m.mask([[1, 2], [3]], 1)).toThrow(/ids rows must all have the same length 2, got \[2, 1\]/);
    const f = tf.tensor2d([[1, 2]]);
    expect(() => m.mask(f, 1)).toThrow(/ids tensor must be int32 \[B, T\], got float32 \[1, 2\]/);
    f.dispose();
  });
});
