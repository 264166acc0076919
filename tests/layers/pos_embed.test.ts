import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { posEmbedInit, resamplePosEmbed, sincos1d, sincosPosEmbed2d } from '../../src/layers/index.js';
import { run as sincosKind } from '../conformance/kinds/sincos_pos_embed.js';
import { checkKind, expectClose, loadCase } from './helpers.js';

/** The deterministic table used for the PyTorch references below: row i, channel c = ((7i + 3c) % 11) / 10 - 0.5. */
function table(rows: number, d: number): tf.Tensor {
  const v: number[] = [];
  for (let i = 0; i < rows; i++) for (let c = 0; c < d; c++) v.push(((i * 7 + c * 3) % 11) / 10 - 0.5);
  return tf.tensor3d(v, [1, rows, d]);
}

describe('sin-cos position tables', () => {
  it('sincos1d: [sin(pos * w_i), cos(pos * w_i)] with w_i = 10000^(-i/(D/2))', () => {
    const e = sincos1d(4, [0, 2]);
    expectClose(e, [0, 0, 1, 1, Math.sin(2), Math.sin(0.02), Math.cos(2), Math.cos(0.02)], 1e-12, 0);
    expect(() => sincos1d(3, [0])).toThrow(/embedDim must be a positive even integer, got 3/);
  });

  it('2-D: first half encodes the column, second half the row (hand example, non-square grid)', () => {
    const t = sincosPosEmbed2d(8, [2, 3]);
    expect(t.shape).toEqual([6, 8]);
    const row = Array.from(t.dataSync().slice(5 * 8, 6 * 8)); // cell (r=1, c=2)
    const s = Math.sin;
    const c = Math.cos;
    expectClose(row, [s(2), s(0.02), c(2), c(0.02), s(1), s(0.01), c(1), c(0.01)], 1e-6, 0);
    const first = Array.from(t.dataSync().slice(0, 8)); // cell (0, 0)
    expect(first).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    t.dispose();
  });

  it('class-token row is all zero', () => {
    const t = sincosPosEmbed2d(4, 2, true);
    expect(t.shape).toEqual([5, 4]);
    expect(Array.from(t.dataSync().slice(0, 4))).toEqual([0, 0, 0, 0]);
    expectClose(Array.from(t.dataSync().slice(4)), sincosPosEmbed2d(4, 2).dataSync(), 0, 0);
  });

  it('reproduces the sincos_pos_embed conformance case (kind and direct)', async () => {
    await checkKind('sincos_pos_embed', sincosKind);
    const c = loadCase('sincos_pos_embed');
    const { embed_dim: d, grid_size: g, cls_token: cls } = c.config as { embed_dim: number; grid_size: number; cls_token: boolean };
    expectClose(sincosPosEmbed2d(d, g, cls), c.tensor('expect.pos_embed'), 1e-5, 1e-4);
  });

  it('rejects a width that is not a multiple of 4, before any tensor work', () => {
    const before = tf.memory().numTensors;
    expect(() => sincosPosEmbed2d(30, 4)).toThrow(/embedDim must be a positive multiple of 4, got 30/);
    expect(() => sincosPosEmbed2d(32, [4, 0])).toThrow(/gridSize must be .* got \[4,0\]/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('posEmbedInit: learned is trainable trunc-normal, sincos fixed with zero prefix rows, none creates nothing', () => {
    expect(posEmbedInit('learned', 8, 2, 1)).toEqual({ init: { kind: 'truncNormal', std: 0.02 }, trainable: true });
    expect(posEmbedInit('none', 8, 2, 1)).toBeNull();
    const s = posEmbedInit('sincos', 8, [1, 2], 2)!;
    expect(s.trainable).toBe(false);
    expect(s.init.kind).toBe('values');
    if (s.init.kind === 'values') {
      expect(s.init.values.length).toBe((2 + 2) * 8);
      expect(Array.from(s.init.values.slice(0, 16))).toEqual(new Array(16).fill(0));
    }
  });
});

describe('resamplePosEmbed', () => {
  it('is the identity when the grids are equal', () => {
    const t = table(1 + 9, 4);
    const r = resamplePosEmbed(t, 3, [3, 3]);
    expect(r.shape).toEqual([1, 10, 4]);
    expect(Array.from(r.dataSync())).toEqual(Array.from(t.dataSync()));
    tf.dispose([t, r]);
  });

  it('bilinear, align_corners=False (hand example: 1x2 -> 1x4, prefix kept)', () => {
    // Columns: src = (d + 0.5) * 2/4 - 0.5, clamped at 0 -> 0, 0.25, 0.75, 1.25 (right tap clamped).
    const t = tf.tensor3d([9, 0, 1], [1, 3, 1]);
    const r = resamplePosEmbed(t, [1, 2], [1, 4], { mode: 'bilinear', antialias: false });
    expectClose(r, tf.tensor3d([9, 0, 0.25, 0.75, 1], [1, 5, 1]), 1e-7, 0);
  });

  // Reference numbers computed with PyTorch 1.13.1 (Debian python3-torch) as timm's
  // resample_abs_pos_embed does it: the grid rows reshaped to [1, D, rows, cols],
  // F.interpolate(size=new, mode=..., align_corners=False, antialias=False),
  // permuted back and flattened, prefix row concatenated first; input = table() above.
  const torchRef: Record<string, number[]> = {
    'bicubic 3x3->5x4': [-0.5, -0.2, 0.238311, 0.538311, -0.1231637, 0.297686, 0.0179008, -0.078486, 0.5598442, -0.319111, 0.1971109, 0.4971109, -0.1643637, 0.2564859, -0.0232993, -0.119686, 0.518644, -0.360311, 0.1287109, 0.428711, -0.2327637, 0.1880859, -0.0916992, -0.188086, 0.4502442, -0.428711, 0.060311, 0.360311, -0.3011637, 0.119686, -0.1600992, -0.2564859, 0.3818443, -0.497111, 0.0191109, 0.319111, -0.3423637, 0.078486, -0.2012992, -0.297686, 0.3406442, -0.5383111],
    'bilinear 3x3->5x4': [-0.5, -0.2, 0.2, 0.5, -0.05, 0.25, 0.0625, -0.05, 0.5, -0.3, 0.16, 0.46, -0.09, 0.21, 0.0225, -0.09, 0.46, -0.34, 0.1, 0.4, -0.15, 0.15, -0.0375, -0.15, 0.4, -0.4, 0.04, 0.34, -0.21, 0.09, -0.0975, -0.21, 0.34, -0.46, 0.0, 0.3, -0.25, 0.05, -0.1375, -0.25, 0.3, -0.5],
    'bicubic 4x4->3x2': [-0.5, -0.2, -0.0445168, 0.248282, 0.2781974, 0.0353986, 0.122168, -0.240625, -0.2737305, 0.1390625, 0.1811922, -0.1553423, -0.1438079, 0.2427265],
    'bilinear 4x4->3x2': [-0.5, -0.2, 0.0083333, 0.2166667, 0.2166667, 0.0583333, 0.075, -0.175, -0.175, 0.125, 0.1416667, -0.1083333, -0.1083333, 0.1916667],
  };
  it.each([
    ['bicubic', [3, 3], [5, 4]],
    ['bilinear', [3, 3], [5, 4]],
    ['bicubic', [4, 4], [3, 2]],
    ['bilinear', [4, 4], [3, 2]],
  ] as const)('%s %j -> %j matches PyTorch F.interpolate', (mode, from, to) => {
    const t = table(1 + from[0] * from[1], 2);
    const r = resamplePosEmbed(t, [from[0], from[1]], [to[0], to[1]], { mode, antialias: false, numPrefixTokens: 1 });
    expect(r.shape).toEqual([1, 1 + to[0] * to[1], 2]);
    expectClose(r.dataSync(), torchRef[`${mode} ${from.join('x')}->${to.join('x')}`]!, 2e-6, 1e-5);
    tf.dispose([t, r]);
  });

  it("defaults to timm's antialias=True, which differs from the plain bicubic when shrinking", () => {
    const t = table(1 + 16, 2);
    const aa = resamplePosEmbed(t, 4, [3, 2]);
    const plain = resamplePosEmbed(t, 4, [3, 2], { antialias: false });
    expectClose(plain.dataSync(), torchRef['bicubic 4x4->3x2']!, 2e-6, 1e-5);
    expect(Math.abs(aa.dataSync()[4]! - plain.dataSync()[4]!)).toBeGreaterThan(1e-3);
    tf.dispose([t, aa, plain]);
  });

  it('rejects a table that does not match the old grid', () => {
    const t = table(1 + 9, 2);
    expect(() => resamplePosEmbed(t, 4, 2)).toThrow(/table has 10 rows .*expected numPrefixTokens \+ oldGrid = 1 \+ 4\*4 = 17/);
    expect(() => resamplePosEmbed(t, 3, 2, { mode: 'area' as 'bilinear' })).toThrow(/mode must be 'bicubic', 'bilinear' or 'nearest', got 'area'/);
    t.dispose();
  });
});
