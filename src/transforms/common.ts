import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../utils/random.js';

/** Throws unless `images` is a float32 `[B, H, W, C]` tensor of at least one image. */
export function checkImages(fn: string, images: unknown): asserts images is tf.Tensor4D {
  if (!(images instanceof tf.Tensor) || images.rank !== 4) {
    throw new Error(`${fn}: images must be a [B, H, W, C] tensor (NHWC), got ${images instanceof tf.Tensor ? `shape [${images.shape}]` : String(images)}`);
  }
  if (images.dtype !== 'float32') throw new Error(`${fn}: images must be float32 (values in [0, 1]), got ${images.dtype}`);
  if (images.shape[0] === 0 || images.shape[1] === 0 || images.shape[2] === 0) {
    throw new Error(`${fn}: images must hold at least one non-empty image, got shape [${images.shape}]`);
  }
}

/** Throws unless `rng` is the library's seeded generator (every random choice is explicit). */
export function checkRng(fn: string, rng: unknown): asserts rng is Rng {
  if (!(rng instanceof Rng)) throw new Error(`${fn}: rng must be an Rng (new Rng(seed)), got ${rng === null ? 'null' : typeof rng}`);
}

/** Throws unless `p` is a probability. */
export function checkProbability(fn: string, name: string, p: unknown): asserts p is number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`${fn}: ${name} must be a number in [0, 1], got ${String(p)}`);
}

/** Throws unless `r` is `[lo, hi]` with `min <= lo <= hi` (finite). */
export function checkRange(fn: string, name: string, r: unknown, min: number): asserts r is readonly [number, number] {
  if (
    !Array.isArray(r) || r.length !== 2 || typeof r[0] !== 'number' || typeof r[1] !== 'number' ||
    !Number.isFinite(r[0]) || !Number.isFinite(r[1]) || r[0] < min || r[0] > r[1]
  ) {
    throw new Error(`${fn}: ${name} must be [lo, hi] with ${min} <= lo <= hi, got ${JSON.stringify(r)}`);
  }
}

/**
 * Per-image choice between `a` and `b`: image `i` comes from `b` where
 * `take[i]` is true. Shapes `[B, H, W, C]`.
 */
export function selectPerImage(take: boolean[], a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    if (take.every((t) => !t)) return tf.clone(a);
    if (take.every((t) => t)) return tf.clone(b);
    const m = tf.tensor4d(take.map((t) => (t ? 1 : 0)), [take.length, 1, 1, 1], 'float32');
    return tf.add(tf.mul(b, m), tf.mul(a, tf.sub(1, m))) as tf.Tensor4D;
  });
}

/** ITU-R 601 luma, as torchvision's `rgb_to_grayscale`: `0.299 R + 0.587 G + 0.114 B`, `[B, H, W, 1]`. */
export function luma(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    if (images.shape[3] === 1) return tf.clone(images);
    const w = tf.tensor1d([0.299, 0.587, 0.114]);
    return tf.sum(tf.mul(images, w), 3, true) as tf.Tensor4D;
  });
}
