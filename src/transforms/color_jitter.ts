import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../utils/random.js';
import { checkImages, checkProbability, checkRng, luma, selectPerImage } from './common.js';

/** Options of {@link colorJitter}. */
export type ColorJitterOptions = {
  /** Brightness factor drawn from `[max(0, 1 - b), 1 + b]`. Default 0.4 (SimCLR, MoCo v3, DINO). */
  brightness?: number;
  /** Contrast factor drawn from `[max(0, 1 - c), 1 + c]`. Default 0.4. */
  contrast?: number;
  /** Saturation factor drawn from `[max(0, 1 - s), 1 + s]`. Default 0.2. */
  saturation?: number;
  /** Hue shift drawn from `[-h, h]` (fraction of the colour wheel), `h <= 0.5`. Default 0.1. */
  hue?: number;
  /** Probability that an image is jittered at all (`RandomApply`). Default 0.8. */
  p?: number;
  /** The generator of every draw. */
  rng: Rng;
};

function clamp01(x: tf.Tensor): tf.Tensor4D {
  return tf.clipByValue(x, 0, 1) as tf.Tensor4D;
}

/** torchvision `_rgb2hsv` on `[B, H, W, 3]`: hue, saturation, value, each `[B, H, W, 1]`, hue in [0, 1). */
function rgbToHsv(x: tf.Tensor4D): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const [r, g, b] = tf.split(x, 3, 3);
  const maxc = tf.max(x, 3, true);
  const minc = tf.min(x, 3, true);
  const eqc = tf.equal(maxc, minc);
  const cr = tf.sub(maxc, minc);
  const s = tf.div(cr, tf.where(eqc, tf.onesLike(maxc), maxc));
  const crDiv = tf.where(eqc, tf.onesLike(cr), cr);
  const rc = tf.div(tf.sub(maxc, r!), crDiv);
  const gc = tf.div(tf.sub(maxc, g!), crDiv);
  const bc = tf.div(tf.sub(maxc, b!), crDiv);
  const isR = tf.equal(maxc, r!);
  const isG = tf.logicalAnd(tf.equal(maxc, g!), tf.logicalNot(isR));
  const isB = tf.logicalAnd(tf.logicalNot(tf.equal(maxc, g!)), tf.logicalNot(isR));
  const hr = tf.mul(tf.cast(isR, 'float32'), tf.sub(bc, gc));
  const hg = tf.mul(tf.cast(isG, 'float32'), tf.add(2, tf.sub(rc, bc)));
  const hb = tf.mul(tf.cast(isB, 'float32'), tf.add(4, tf.sub(gc, rc)));
  const h6 = tf.add(tf.div(tf.add(tf.add(hr, hg), hb), 6), 1);
  return [tf.sub(h6, tf.floor(h6)), s, maxc];
}

/** torchvision `_hsv2rgb`: `[B, H, W, 1]` each -> `[B, H, W, 3]`. */
function hsvToRgb(h: tf.Tensor, s: tf.Tensor, v: tf.Tensor): tf.Tensor4D {
  const h6 = tf.mul(h, 6);
  const fi = tf.floor(h6);
  const f = tf.sub(h6, fi);
  const i = tf.sub(fi, tf.mul(tf.floor(tf.div(fi, 6)), 6));
  const p = tf.clipByValue(tf.mul(v, tf.sub(1, s)), 0, 1);
  const q = tf.clipByValue(tf.mul(v, tf.sub(1, tf.mul(s, f))), 0, 1);
  const t = tf.clipByValue(tf.mul(v, tf.sub(1, tf.mul(s, tf.sub(1, f)))), 0, 1);
  // Sector k of the hexcone takes (r, g, b) from these sources.
  const table: [tf.Tensor, tf.Tensor, tf.Tensor][] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]];
  const channels = [0, 1, 2].map((c) => {
    let out: tf.Tensor = tf.zerosLike(v);
    table.forEach((src, k) => {
      out = tf.add(out, tf.mul(tf.cast(tf.equal(i, k), 'float32'), src[c]!));
    });
    return out;
  });
  return tf.concat(channels, 3) as tf.Tensor4D;
}

/**
 * Colour jitter (torchvision `ColorJitter` inside `RandomApply`, the colour
 * distortion of SimCLR, MoCo v3 and DINO): with probability `p` per image,
 * brightness, contrast, saturation and hue are changed by factors drawn per
 * image, in a random order drawn per image, as torchvision does:
 * brightness `x b`; contrast `c x + (1 - c) mean(luma)`; saturation
 * `s x + (1 - s) luma`; hue rotated in HSV. Every step clamps to [0, 1].
 * Saturation and hue leave single-channel images unchanged.
 *
 * @param images `[B, H, W, C]` float32 in [0, 1]. @returns the same shape.
 */
export function colorJitter(images: tf.Tensor4D, options: ColorJitterOptions): tf.Tensor4D {
  const fn = 'colorJitter';
  checkImages(fn, images);
  checkRng(fn, options?.rng);
  const strength = {
    brightness: options.brightness ?? 0.4,
    contrast: options.contrast ?? 0.4,
    saturation: options.saturation ?? 0.2,
    hue: options.hue ?? 0.1,
  };
  for (const [k, v] of Object.entries(strength)) {
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new Error(`${fn}: ${k} must be a finite number >= 0, got ${String(v)}`);
  }
  if (strength.hue > 0.5) throw new Error(`${fn}: hue must be in [0, 0.5], got ${strength.hue}`);
  const p = options.p ?? 0.8;
  checkProbability(fn, 'p', p);
  const rng = options.rng;
  const [B, , , C] = images.shape;
  const factor = (s: number): number => rng.uniformRange(Math.max(0, 1 - s), 1 + s);
  const apply: boolean[] = [];
  const orders: number[][] = [];
  const f = { brightness: [] as number[], contrast: [] as number[], saturation: [] as number[], hue: [] as number[] };
  for (let i = 0; i < B; i++) {
    apply.push(rng.uniform() < p);
    orders.push(rng.shuffle([0, 1, 2, 3]));
    f.brightness.push(factor(strength.brightness));
    f.contrast.push(factor(strength.contrast));
    f.saturation.push(factor(strength.saturation));
    f.hue.push(rng.uniformRange(-strength.hue, strength.hue));
  }
  return tf.tidy(() => {
    const col = (v: number[]): tf.Tensor4D => tf.tensor4d(v, [B, 1, 1, 1]);
    const ops: ((x: tf.Tensor4D) => tf.Tensor4D)[] = [
      (x) => clamp01(tf.mul(x, col(f.brightness))),
      (x) => {
        const c = col(f.contrast);
        const mean = tf.mean(luma(x), [1, 2, 3], true);
        return clamp01(tf.add(tf.mul(x, c), tf.mul(tf.sub(1, c), mean)));
      },
      (x) => {
        if (C !== 3) return x;
        const s = col(f.saturation);
        return clamp01(tf.add(tf.mul(x, s), tf.mul(tf.sub(1, s), luma(x))));
      },
      (x) => {
        if (C !== 3) return x;
        const [h, s, v] = rgbToHsv(x);
        const h2 = tf.add(h, col(f.hue));
        return hsvToRgb(tf.sub(h2, tf.floor(h2)), s, v);
      },
    ];
    let x = images as tf.Tensor4D;
    for (let pos = 0; pos < 4; pos++) {
      const used = new Set(orders.map((o) => o[pos]!));
      let next: tf.Tensor4D | null = null;
      for (const op of used) {
        const y = ops[op]!(x);
        next = next === null ? y : selectPerImage(orders.map((o) => o[pos] === op), next, y);
      }
      x = next!;
    }
    return selectPerImage(apply, images, x);
  });
}
