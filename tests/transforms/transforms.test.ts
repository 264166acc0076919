/**
 * View augmentations as tensor ops: each checked against a hand computation
 * (per-pixel scalar code following torchvision's formulas, replaying the same
 * seeded draws), on properties (shapes, fixed points, determinism), and on
 * bad input (an error naming the parameter, no tensor left behind).
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  Rng,
  augmentView,
  colorJitter,
  gaussianKernel1d,
  multiCrop,
  randomCropBox,
  randomGaussianBlur,
  randomGrayscale,
  randomHorizontalFlip,
  randomResizedCrop,
  randomSolarize,
  twoViews,
} from '../../src/index.js';

function image(b: number, h: number, w: number, c: number, seed: number): tf.Tensor4D {
  const r = new Rng(seed);
  return tf.tensor4d(Array.from({ length: b * h * w * c }, () => r.uniform()), [b, h, w, c]);
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThanOrEqual(tol);
}

describe('randomCropBox (torchvision get_params)', () => {
  it('boxes fit, with area and ratio in range, and the same seed gives the same boxes', () => {
    const a = new Rng(3);
    const b = new Rng(3);
    for (let i = 0; i < 200; i++) {
      const box = randomCropBox(40, 30, [0.2, 0.6], [0.75, 4 / 3], a);
      expect(randomCropBox(40, 30, [0.2, 0.6], [0.75, 4 / 3], b)).toEqual(box);
      expect(box.top >= 0 && box.left >= 0 && box.top + box.height <= 40 && box.left + box.width <= 30).toBe(true);
      const area = (box.height * box.width) / 1200;
      // Rounding moves the area a little.
      expect(area).toBeGreaterThan(0.15);
      expect(area).toBeLessThan(0.66);
    }
  });

  it('falls back to the central crop with the ratio clamped when no draw fits', () => {
    // An area of 4x the image never fits: whole width, height from the clamped ratio.
    expect(randomCropBox(10, 40, [4, 4], [1, 2], new Rng(1))).toEqual({ top: 0, left: 10, height: 10, width: 20 });
    expect(randomCropBox(20, 20, [4, 4], [0.5, 2], new Rng(1))).toEqual({ top: 0, left: 0, height: 20, width: 20 });
  });
});

describe('randomResizedCrop', () => {
  it('the whole image at its own size is the identity', () => {
    const x = image(2, 6, 6, 3, 1);
    const y = randomResizedCrop(x, { size: 6, scale: [1, 1], ratio: [1, 1], rng: new Rng(2) });
    close(y.dataSync(), x.dataSync(), 1e-6);
    tf.dispose([x, y]);
  });

  it('resizes each image to size with one box per image', () => {
    const before = tf.memory().numTensors;
    const x = image(3, 16, 12, 1, 2);
    const y = randomResizedCrop(x, { size: [8, 5], rng: new Rng(4) });
    expect(y.shape).toEqual([3, 8, 5, 1]);
    tf.dispose([x, y]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('flip, grayscale, solarize', () => {
  it('flip with p 1 mirrors, p 0 keeps', () => {
    const x = image(2, 3, 4, 2, 5);
    const f = randomHorizontalFlip(x, { p: 1, rng: new Rng(1) });
    const want = tf.reverse(x, 2);
    close(f.dataSync(), want.dataSync(), 0);
    const k = randomHorizontalFlip(x, { p: 0, rng: new Rng(1) });
    close(k.dataSync(), x.dataSync(), 0);
    tf.dispose([x, f, want, k]);
  });

  it('grayscale with p 1 is the 601 luma in every channel', () => {
    const x = tf.tensor4d([0.2, 0.4, 0.6, 1, 0, 0.5], [1, 1, 2, 3]);
    const g = randomGrayscale(x, { p: 1, rng: new Rng(1) });
    const l0 = 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6;
    const l1 = 0.299 * 1 + 0.587 * 0 + 0.114 * 0.5;
    close(g.dataSync(), [l0, l0, l0, l1, l1, l1], 1e-6);
    tf.dispose([x, g]);
  });

  it('solarize with p 1 inverts pixels at or above the threshold', () => {
    const x = tf.tensor4d([0.1, 0.5, 0.9, 0.49], [1, 2, 2, 1]);
    const s = randomSolarize(x, { p: 1, rng: new Rng(1) });
    close(s.dataSync(), [0.1, 0.5, 0.1, 0.49], 1e-6);
    tf.dispose([x, s]);
  });
});

// Scalar references of torchvision's colour ops on one RGB pixel list.
function rgb2hsv([r, g, b]: number[]): number[] {
  const maxc = Math.max(r!, g!, b!);
  const minc = Math.min(r!, g!, b!);
  const cr = maxc - minc;
  const s = cr / (maxc === minc ? 1 : maxc);
  const d = maxc === minc ? 1 : cr;
  const rc = (maxc - r!) / d;
  const gc = (maxc - g!) / d;
  const bc = (maxc - b!) / d;
  let h: number;
  if (maxc === r) h = bc - gc;
  else if (maxc === g) h = 2 + rc - bc;
  else h = 4 + gc - rc;
  h = (((h / 6 + 1) % 1) + 1) % 1;
  return [h, s, maxc];
}
function hsv2rgb([h, s, v]: number[]): number[] {
  const i = Math.floor(h! * 6) % 6;
  const f = h! * 6 - Math.floor(h! * 6);
  const c = (z: number): number => Math.min(1, Math.max(0, z));
  const p = c(v! * (1 - s!));
  const q = c(v! * (1 - s! * f));
  const t = c(v! * (1 - s! * (1 - f)));
  return [[v!, t, p], [q, v!, p], [p, v!, t], [p, q, v!], [t, p, v!], [v!, p, q]][i]!;
}

describe('colorJitter', () => {
  it('matches a per-pixel reference replaying the same draws', () => {
    const B = 3;
    const x = image(B, 2, 2, 3, 8);
    const opts = { brightness: 0.4, contrast: 0.4, saturation: 0.3, hue: 0.1, p: 0.7 };
    const got = colorJitter(x, { ...opts, rng: new Rng(12) }).dataSync();
    const px = x.arraySync();
    const r = new Rng(12);
    const fac = (s: number): number => r.uniformRange(Math.max(0, 1 - s), 1 + s);
    const draws = Array.from({ length: B }, () => ({
      apply: r.uniform() < opts.p,
      order: r.shuffle([0, 1, 2, 3]),
      b: fac(opts.brightness),
      c: fac(opts.contrast),
      s: fac(opts.saturation),
      h: r.uniformRange(-opts.hue, opts.hue),
    }));
    const want: number[] = [];
    const clamp = (z: number): number => Math.min(1, Math.max(0, z));
    const luma = (p: number[]): number => 0.299 * p[0]! + 0.587 * p[1]! + 0.114 * p[2]!;
    for (let i = 0; i < B; i++) {
      let pix = px[i]!.flat() as number[][];
      const d = draws[i]!;
      if (d.apply) {
        for (const op of d.order) {
          if (op === 0) pix = pix.map((p) => p.map((v) => clamp(v * d.b)));
          if (op === 1) {
            const m = pix.reduce((a, p) => a + luma(p), 0) / pix.length;
            pix = pix.map((p) => p.map((v) => clamp(d.c * v + (1 - d.c) * m)));
          }
          if (op === 2) pix = pix.map((p) => p.map((v) => clamp(d.s * v + (1 - d.s) * luma(p))));
          if (op === 3) {
            pix = pix.map((p) => {
              const [h, s, v] = rgb2hsv(p);
              return hsv2rgb([(((h! + d.h) % 1) + 1) % 1, s!, v!]);
            });
          }
        }
      }
      want.push(...pix.flat());
    }
    close(got, want, 2e-5);
    x.dispose();
  });

  it('leaves single-channel images to brightness and contrast', () => {
    const x = image(2, 3, 3, 1, 9);
    const y = colorJitter(x, { brightness: 0, contrast: 0, saturation: 0.9, hue: 0.5, p: 1, rng: new Rng(1) });
    close(y.dataSync(), x.dataSync(), 1e-6);
    tf.dispose([x, y]);
  });
});

describe('randomGaussianBlur', () => {
  it('blurs an impulse into the outer product of the 1-D kernel and keeps a constant image', () => {
    const n = 15;
    const v = new Float32Array(n * n);
    v[7 * n + 7] = 1;
    const x = tf.tensor4d(v, [1, n, n, 1]);
    const y = randomGaussianBlur(x, { p: 1, sigma: [1, 1], rng: new Rng(1) });
    const k = gaussianKernel1d(1, 3);
    const want = new Float32Array(n * n);
    for (let i = -3; i <= 3; i++) for (let j = -3; j <= 3; j++) want[(7 + i) * n + 7 + j] = k[i + 3]! * k[j + 3]!;
    close(y.dataSync(), want, 1e-6);
    const c = tf.fill([2, 6, 6, 3], 0.3) as tf.Tensor4D;
    const cb = randomGaussianBlur(c, { p: 1, rng: new Rng(2) });
    close(cb.dataSync(), c.dataSync(), 1e-6);
    tf.dispose([x, y, c, cb]);
  });
});

describe('multiCrop and twoViews', () => {
  it("DINO's crops: 2 global and numLocal local, deterministic per seed, nothing leaked", () => {
    const x = image(2, 32, 32, 3, 3);
    const before = tf.memory().numTensors;
    const a = multiCrop(x, { globalSize: 24, localSize: 12, numLocal: 3, rng: new Rng(5) });
    const b = multiCrop(x, { globalSize: 24, localSize: 12, numLocal: 3, rng: new Rng(5) });
    expect(a.global.map((t) => t.shape)).toEqual([[2, 24, 24, 3], [2, 24, 24, 3]]);
    expect(a.local.map((t) => t.shape)).toEqual([[2, 12, 12, 3], [2, 12, 12, 3], [2, 12, 12, 3]]);
    close(a.local[2]!.dataSync(), b.local[2]!.dataSync(), 0);
    tf.dispose([...a.global, ...a.local, ...b.global, ...b.local]);
    expect(tf.memory().numTensors).toBe(before);
    const [v1, v2] = twoViews(x, { size: 16, normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, rng: new Rng(1) });
    expect(v1.shape).toEqual([2, 16, 16, 3]);
    expect(tf.max(v2).dataSync()[0]).toBeLessThanOrEqual(2 + 1e-6);
    tf.dispose([v1, v2, x]);
  });

  it('bad input names the parameter and leaves nothing behind', () => {
    const x = image(1, 8, 8, 3, 1);
    const before = tf.memory().numTensors;
    expect(() => randomResizedCrop(x, { size: 0, rng: new Rng(1) })).toThrow(/randomResizedCrop: size must be a positive integer/);
    expect(() => randomResizedCrop(x, { size: 4, scale: [0.5, 0.1], rng: new Rng(1) })).toThrow(/scale must be \[lo, hi\]/);
    expect(() => randomHorizontalFlip(x, { p: 2, rng: new Rng(1) })).toThrow(/p must be a number in \[0, 1\], got 2/);
    expect(() => randomGrayscale(x, { rng: 3 as unknown as Rng })).toThrow(/rng must be an Rng/);
    expect(() => colorJitter(x, { hue: 0.7, rng: new Rng(1) })).toThrow(/hue must be in \[0, 0.5\], got 0.7/);
    expect(() => randomGaussianBlur(tf.zeros([1, 2, 2]) as unknown as tf.Tensor4D, { rng: new Rng(1) })).toThrow(/\[B, H, W, C\]/);
    expect(() => multiCrop(x, { numLocal: -1, rng: new Rng(1) })).toThrow(/numLocal must be an integer in \[0, 64\], got -1/);
    expect(() => augmentView(x, { size: 4, normalize: { mean: [0], std: [1] }, rng: new Rng(1) })).toThrow(/normalize must be \{ mean, std \} with 3 entries/);
    expect(() => randomSolarize(tf.zeros([1, 2, 2, 1], 'int32') as tf.Tensor4D, { rng: new Rng(1) })).toThrow(/float32/);
    expect(tf.memory().numTensors).toBe(before + 2);
    x.dispose();
  });
});
