import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { interpolationMatrix, resamplePosTable, resizeGrid, type InterpolationMode } from '../../src/ops/index.js';
import { expectClose } from '../layers/helpers.js';

/**
 * PyTorch's F.interpolate weights, read off one-hot inputs
 * (tests/ops/gen_resize_fixture.py, Debian's torch 1.13; the file names the version).
 */
interface FixtureCase {
  mode: InterpolationMode;
  antialias: boolean;
  alignCorners: boolean;
  inSize: number;
  outSize: number;
  scaleFactor?: number;
  matrix: number[];
}
const fixture = JSON.parse(readFileSync(new URL('./resize_fixture.json', import.meta.url), 'utf8')) as { torch: string; cases: FixtureCase[] };

function name(c: FixtureCase): string {
  const sf = c.scaleFactor !== undefined ? ` scale_factor=${c.scaleFactor.toFixed(4)}` : '';
  return `${c.mode} ${c.inSize}->${c.outSize} aa=${c.antialias} ac=${c.alignCorners}${sf}`;
}

describe('interpolationMatrix', () => {
  it.each(fixture.cases.map((c) => [name(c), c] as const))('%s equals PyTorch F.interpolate', (_n, c) => {
    const m = interpolationMatrix(c.inSize, c.outSize, {
      mode: c.mode,
      antialias: c.antialias,
      alignCorners: c.alignCorners,
      scaleFactor: c.scaleFactor,
    });
    expect(m.length).toBe(c.inSize * c.outSize);
    expectClose(m, c.matrix, 1e-6, 1e-5);
  });

  it('is the identity when in == out (every mode, aa on and off)', () => {
    for (const mode of ['bicubic', 'bilinear', 'nearest'] as const) {
      for (const antialias of mode === 'nearest' ? [false] : [false, true]) {
        const m = interpolationMatrix(5, 5, { mode, antialias });
        const eye = Array.from({ length: 25 }, (_, k) => (k % 6 === 0 ? 1 : 0));
        expectClose(m, eye, 1e-7, 0);
      }
    }
  });

  it('rows sum to 1, up and down, aa on and off', () => {
    for (const [i, o] of [[14, 10], [14, 16], [7, 3], [3, 11]] as const) {
      for (const mode of ['bicubic', 'bilinear'] as const) {
        for (const antialias of [false, true]) {
          const m = interpolationMatrix(i, o, { mode, antialias });
          for (let r = 0; r < o; r++) {
            let s = 0;
            for (let k = 0; k < i; k++) s += m[r * i + k]!;
            expect(Math.abs(s - 1)).toBeLessThan(1e-6);
          }
        }
      }
    }
  });

  it('hand example: bilinear 2 -> 4 (align_corners=False): sources 0, 0.25, 0.75, 1.25', () => {
    expectClose(interpolationMatrix(2, 4, { mode: 'bilinear' }), [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1], 1e-7, 0);
  });

  it('hand example: DINO scale_factor bicubic uses 1/scaleFactor, not in/out', () => {
    // n = 4, g = 2: x = (o + 0.5) * 4 / 2.1 - 0.5; for o = 0, x = 0.452381 -> taps -1..2 clamped.
    const n = 4;
    const g = 2;
    const m = interpolationMatrix(n, g, { scaleFactor: (g + 0.1) / n });
    const A = -0.75;
    const w1 = (s: number) => (A + 2) * s ** 3 - (A + 3) * s ** 2 + 1;
    const w2 = (s: number) => A * s ** 3 - 5 * A * s ** 2 + 8 * A * s - 4 * A;
    const x = 0.5 * n / (g + 0.1) - 0.5;
    const t = x - Math.floor(x);
    expectClose(m.subarray(0, 4), [w2(t + 1) + w1(t), w1(1 - t), w2(2 - t), 0], 1e-6, 0);
  });

  it('rejects bad options by name and value', () => {
    expect(() => interpolationMatrix(0, 3)).toThrow(/inSize must be a positive integer, got 0/);
    expect(() => interpolationMatrix(3, 3, { mode: 'area' as 'bicubic' })).toThrow(/mode must be 'bicubic', 'bilinear' or 'nearest', got 'area'/);
    expect(() => interpolationMatrix(3, 3, { mode: 'nearest', antialias: true })).toThrow(/'nearest' takes neither/);
    expect(() => interpolationMatrix(3, 3, { scaleFactor: -1 })).toThrow(/scaleFactor must be a positive finite number, got -1/);
  });
});

describe('resizeGrid / resamplePosTable (in-graph)', () => {
  /** Deterministic values: ((7i + 3c) % 11) / 10 - 0.5. */
  function values(n: number): number[] {
    return Array.from({ length: n }, (_, i) => ((i * 7 + (i % 5) * 3) % 11) / 10 - 0.5);
  }

  it('resizeGrid equals applying the two 1-D matrices (NHWC, batch and unbatched)', () => {
    const [B, H, W, C] = [2, 4, 5, 3];
    const x = tf.tensor4d(values(B * H * W * C), [B, H, W, C]);
    const opts = { mode: 'bicubic' as const, antialias: true };
    const y = resizeGrid(x, [3, 7], opts);
    expect(y.shape).toEqual([B, 3, 7, C]);
    const mh = interpolationMatrix(H, 3, opts);
    const mw = interpolationMatrix(W, 7, opts);
    const xv = x.dataSync();
    const want: number[] = [];
    for (let b = 0; b < B; b++) for (let o = 0; o < 3; o++) for (let p = 0; p < 7; p++) for (let c = 0; c < C; c++) {
      let s = 0;
      for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) s += mh[o * H + h]! * mw[p * W + w]! * xv[((b * H + h) * W + w) * C + c]!;
      want.push(s);
    }
    expectClose(y, want, 1e-6, 1e-5);
    const x1 = tf.reshape(tf.slice(x, [1, 0, 0, 0], [1, H, W, C]), [H, W, C]);
    const y1 = resizeGrid(x1, [3, 7], opts);
    expect(y1.shape).toEqual([3, 7, C]);
    expectClose(y1, want.slice(3 * 7 * C), 1e-6, 1e-5);
    tf.dispose([x, y, x1, y1]);
  });

  it('resamplePosTable keeps the prefix rows and resizes the grid rows like resizeGrid', () => {
    const [P, h, w, D] = [1, 3, 4, 2];
    const t = tf.tensor3d(values((P + h * w) * D), [1, P + h * w, D]);
    const r = resamplePosTable(t, [h, w], [5, 2], { antialias: true, numPrefixTokens: P });
    expect(r.shape).toEqual([1, P + 10, D]);
    const grid = tf.reshape(tf.slice(t, [0, P, 0], [1, h * w, D]), [h, w, D]);
    const want = resizeGrid(grid, [5, 2], { antialias: true });
    expectClose(r.dataSync().subarray(0, P * D), t.dataSync().subarray(0, P * D), 0, 0);
    expectClose(r.dataSync().subarray(P * D), want.dataSync(), 1e-6, 1e-5);
    tf.dispose([t, r, grid, want]);
  });

  it('same grid without scaleFactor returns an equal copy', () => {
    const t = tf.tensor3d(values(10 * 2), [1, 10, 2]);
    const r = resamplePosTable(t, 3, 3);
    expect(r).not.toBe(t);
    expect(Array.from(r.dataSync())).toEqual(Array.from(t.dataSync()));
    tf.dispose([t, r]);
  });

  it('bilinear without antialias copies at an unchanged 2-D size even with a scaleFactor (as aten), bicubic does not', () => {
    const t = tf.tensor3d(values(1 + 36), [1, 37, 1]);
    const same = resamplePosTable(t, 6, 6, { mode: 'bilinear', scaleFactor: 6.1 / 6 });
    expect(Array.from(same.dataSync())).toEqual(Array.from(t.dataSync()));
    const moved = resamplePosTable(t, 6, 6, { mode: 'bicubic', scaleFactor: 6.1 / 6 });
    expect(Math.abs(moved.dataSync()[36]! - t.dataSync()[36]!)).toBeGreaterThan(1e-3);
    tf.dispose([t, same, moved]);
  });

  it('gradients flow to the table (the transpose of the interpolation)', () => {
    const t = tf.tensor3d(values(1 + 9).map((v) => v), [1, 10, 1]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(resamplePosTable(x, 3, 2, { scaleFactor: 2.1 / 3 }), tf.reshape(tf.range(0, 5), [1, 5, 1]))))(t);
    const m = interpolationMatrix(3, 2, { scaleFactor: 2.1 / 3 });
    // d/dx[i,j] of sum_k c_k out_k = sum_{o,p} c_{o,p} M[o,i] M[p,j]; prefix row weight c_0 = 0.
    const want = [0];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let o = 0; o < 2; o++) for (let p = 0; p < 2; p++) s += (1 + o * 2 + p) * m[o * 3 + i]! * m[p * 3 + j]!;
      want.push(s);
    }
    expectClose(g, want, 1e-6, 1e-5);
    tf.dispose([t, g]);
  });

  it('leaks nothing, also after a throw', () => {
    const t = tf.tensor3d(values(10 * 2), [1, 10, 2]);
    const before = tf.memory().numTensors;
    tf.tidy(() => { resamplePosTable(t, 3, [4, 5]); resizeGrid(tf.zeros([2, 2, 1]), 3); });
    expect(tf.memory().numTensors).toBe(before);
    expect(() => resamplePosTable(t, 4, 2)).toThrow(/table has 10 rows .*expected numPrefixTokens \+ fromGrid = 1 \+ 4\*4 = 17/);
    expect(() => resamplePosTable(t, 3, 2, { mode: 'nearest', antialias: true })).toThrow(/resamplePosTable: mode 'nearest' takes neither/);
    expect(tf.memory().numTensors).toBe(before);
    const flat = tf.zeros([2]);
    const img = tf.zeros([1, 2, 1]);
    expect(() => resizeGrid(flat, 2)).toThrow(/resizeGrid: x must be \[B, H, W, C\] or \[H, W, C\]/);
    expect(() => resizeGrid(img, [0, 2])).toThrow(/outHW must be a positive integer/);
    tf.dispose([flat, img]);
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
  });
});
