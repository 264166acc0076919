import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { RandomMasker } from '../../src/masking/index.js';
import { Rng } from '../../src/utils/random.js';
import { caseFile } from '../conformance/paths.js';

/** Minimal safetensors reader (F32 and I64 only) for the conformance file. */
function readCase(path: string): Map<string, { shape: number[]; data: number[] }> {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLen;
  const out = new Map<string, { shape: number[]; data: number[] }>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = info.data_offsets;
    const data: number[] = [];
    if (info.dtype === 'F32') for (let o = start; o < end; o += 4) data.push(view.getFloat32(base + o, true));
    else if (info.dtype === 'I64') for (let o = start; o < end; o += 8) data.push(Number(view.getBigInt64(base + o, true)));
    else continue;
    out.set(name, { shape: info.shape, data });
  }
  return out;
}

/** The `__metadata__` of a safetensors file. */
function readMetadata(path: string): Record<string, string> {
  const bytes = readFileSync(path);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) as { __metadata__?: Record<string, string> };
  return header.__metadata__ ?? {};
}

describe('RandomMasker', () => {
  it('reproduces the mae conformance ids_restore and mask from input.noise', () => {
    const c = readCase(caseFile('mae'));
    const cfg = JSON.parse(readMetadata(caseFile('mae')).config!) as { mask_ratio: number; len_keep: number };
    const noise = c.get('input.noise')!;
    const [B, L] = noise.shape as [number, number];
    const masker = new RandomMasker({ maskRatio: cfg.mask_ratio });
    const a = masker.maskArrays(B, L, { noise: noise.data });
    expect(a.lenKeep).toBe(cfg.len_keep);
    expect(Array.from(a.idsRestore)).toEqual(c.get('expect.ids_restore')!.data);
    expect(Array.from(a.mask)).toEqual(c.get('expect.mask')!.data);
    // the tensor form from a noise tensor agrees
    const nt = tf.tensor2d(noise.data, [B, L]);
    const m = masker.mask(B, L, { noise: nt });
    expect(m.idsRestore.dtype).toBe('int32');
    expect(m.mask.dtype).toBe('float32');
    expect(Array.from(m.idsRestore.dataSync())).toEqual(c.get('expect.ids_restore')!.data);
    expect(Array.from(m.mask.dataSync())).toEqual(c.get('expect.mask')!.data);
    expect(m.idsKeep.shape).toEqual([B, cfg.len_keep]);
    tf.dispose([nt, m]);
  });

  it('hand example: keeps the smallest noise in ascending-noise order, ties by index', () => {
    const masker = new RandomMasker({ maskRatio: 0.5 });
    const a = masker.maskArrays(2, 4, { noise: [[0.9, 0.1, 0.5, 0.3], [0.2, 0.2, 0.7, 0.0]] });
    expect(a.lenKeep).toBe(2);
    expect(Array.from(a.idsShuffle)).toEqual([1, 3, 2, 0, 3, 0, 1, 2]);
    expect(Array.from(a.idsRestore)).toEqual([3, 0, 2, 1, 1, 2, 3, 0]);
    expect(Array.from(a.idsKeep)).toEqual([1, 3, 3, 0]);
    expect(Array.from(a.mask)).toEqual([1, 0, 1, 0, 0, 1, 1, 0]);
  });

  it('lenKeep is floor(L * (1 - r)) in float64, like Python int()', () => {
    expect(new RandomMasker({ maskRatio: 0.75 }).lenKeep(196)).toBe(49);
    expect(new RandomMasker({ maskRatio: 0.5 }).lenKeep(197)).toBe(98);
    // 10 * (1 - 0.7) = 3.0000000000000004 -> 3; 10 * (1 - 0.9) = 0.9999999999999998 -> 0 (throws)
    expect(new RandomMasker({ maskRatio: 0.7 }).lenKeep(10)).toBe(3);
    expect(() => new RandomMasker({ maskRatio: 0.9 }).lenKeep(10)).toThrow(/keeps no token of numTokens 10/);
    expect(new RandomMasker({ maskRatio: 0 }).lenKeep(7)).toBe(7);
  });

  it('is deterministic per seed, bit-identical across calls; an Rng advances', () => {
    const masker = new RandomMasker();
    const a = masker.maskArrays(4, 196, 123);
    const b = masker.maskArrays(4, 196, 123);
    expect(Array.from(b.idsRestore)).toEqual(Array.from(a.idsRestore));
    expect(Array.from(b.noise)).toEqual(Array.from(a.noise));
    const c = masker.maskArrays(4, 196, 124);
    expect(Array.from(c.idsRestore)).not.toEqual(Array.from(a.idsRestore));
    const rng = new Rng(123);
    const r1 = masker.maskArrays(4, 196, rng);
    const r2 = masker.maskArrays(4, 196, rng);
    expect(Array.from(r1.idsRestore)).toEqual(Array.from(a.idsRestore));
    expect(Array.from(r2.idsRestore)).not.toEqual(Array.from(r1.idsRestore));
    // samples of one batch get different masks
    expect(Array.from(a.mask.subarray(0, 196))).not.toEqual(Array.from(a.mask.subarray(196, 392)));
  });

  it('invariants: exact counts, permutation, inverse, mask agrees with idsKeep', () => {
    for (const [ratio, L] of [[0.75, 196], [0.5, 49], [0.6, 17], [0, 5]] as const) {
      const masker = new RandomMasker({ maskRatio: ratio });
      const B = 3;
      const a = masker.maskArrays(B, L, 99);
      const lenKeep = Math.floor(L * (1 - ratio));
      expect(a.lenKeep).toBe(lenKeep);
      for (let b = 0; b < B; b++) {
        const shuffle = Array.from(a.idsShuffle.subarray(b * L, (b + 1) * L));
        expect([...shuffle].sort((x, y) => x - y)).toEqual(Array.from({ length: L }, (_, i) => i));
        for (let i = 0; i < L; i++) expect(shuffle[a.idsRestore[b * L + i]!]).toBe(i);
        const maskRow = Array.from(a.mask.subarray(b * L, (b + 1) * L));
        expect(maskRow.reduce((s, v) => s + v, 0)).toBe(L - lenKeep);
        const keep = Array.from(a.idsKeep.subarray(b * lenKeep, (b + 1) * lenKeep));
        for (const k of keep) expect(maskRow[k]).toBe(0);
        // kept in ascending-noise order
        for (let j = 1; j < keep.length; j++) {
          expect(a.noise[b * L + keep[j]!]!).toBeGreaterThanOrEqual(a.noise[b * L + keep[j - 1]!]!);
        }
      }
    }
  });

  it('mask() creates exactly four tensors, which the caller disposes', () => {
    const masker = new RandomMasker();
    const before = tf.memory().numTensors;
    const m = masker.mask(2, 16, 5);
    expect(tf.memory().numTensors).toBe(before + 4);
    expect(m.idsKeep.shape).toEqual([2, 4]);
    expect(m.idsShuffle.shape).toEqual([2, 16]);
    tf.dispose(m);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad options and inputs with messages naming them', () => {
    expect(() => new RandomMasker({ maskRatio: 1 })).toThrow(/maskRatio must be a number in \[0, 1\), got 1/);
    expect(() => new RandomMasker({ maskRatio: -0.1 })).toThrow(/maskRatio must be a number in \[0, 1\), got -0.1/);
    expect(() => new RandomMasker({ maskRatio: Number.NaN })).toThrow(/maskRatio/);
    const m = new RandomMasker();
    expect(() => m.maskArrays(0, 16, 1)).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => m.maskArrays(2, 2.5, 1)).toThrow(/numTokens must be a positive integer, got 2.5/);
    expect(() => m.maskArrays(2, 4, { noise: [0.1, 0.2, 0.3] })).toThrow(/noise has 3 values, expected batchSize \* numTokens = 8/);
    expect(() => m.maskArrays(1, 4, { noise: [0.1, Number.NaN, 0.3, 0.4] })).toThrow(/noise must be finite, got NaN at flat index 1/);
    const t = tf.zeros([2, 5]);
    expect(() => m.mask(2, 4, { noise: t })).toThrow(/noise shape \[2, 5\] must be \[batchSize, numTokens\] = \[2, 4\]/);
    t.dispose();
    expect(() => m.maskArrays(2, 4, Number.POSITIVE_INFINITY)).toThrow(/random must be a finite seed number or an Rng/);
  });
});
