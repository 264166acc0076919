import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../utils/random.js';
import { checkImages, checkProbability, checkRange, checkRng } from './common.js';

/** Options of {@link randomGaussianBlur}. */
export type GaussianBlurOptions = {
  /** Probability that an image is blurred. Default 0.5 (DINO's local crops; its global crops use 1.0 and 0.1). */
  p?: number;
  /** Range of the standard deviation in pixels, drawn per image. Default `[0.1, 2]` (SimCLR, BYOL, DINO). */
  sigma?: readonly [number, number];
  /** The generator of every draw. */
  rng: Rng;
};

/** The normalised 1-D Gaussian of `sigma` over `2 r + 1` taps. */
export function gaussianKernel1d(sigma: number, radius: number): Float32Array {
  if (typeof sigma !== 'number' || !(sigma > 0) || !Number.isFinite(sigma)) throw new Error(`gaussianKernel1d: sigma must be a finite number > 0, got ${String(sigma)}`);
  if (!Number.isInteger(radius) || radius < 0 || radius > 4096) throw new Error(`gaussianKernel1d: radius must be an integer in [0, 4096], got ${String(radius)}`);
  const k = new Float32Array(2 * radius + 1);
  let s = 0;
  for (let i = -radius; i <= radius; i++) s += k[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= s;
  return k;
}

/**
 * Random Gaussian blur (SimCLR's blur, kept by BYOL, MoCo v3 and DINO): with
 * probability `p` an image is convolved with a separable Gaussian of a
 * standard deviation drawn per image from `sigma`, over `2 ceil(3 sigma) + 1`
 * taps (at most the image size allows), with reflected borders, as
 * torchvision's `gaussian_blur`.
 *
 * @param images `[B, H, W, C]` float32. @returns the same shape.
 */
export function randomGaussianBlur(images: tf.Tensor4D, options: GaussianBlurOptions): tf.Tensor4D {
  const fn = 'randomGaussianBlur';
  checkImages(fn, images);
  checkRng(fn, options?.rng);
  const p = options.p ?? 0.5;
  checkProbability(fn, 'p', p);
  const sigma = options.sigma ?? [0.1, 2];
  checkRange(fn, 'sigma', sigma, Number.MIN_VALUE);
  const [B, H, W, C] = images.shape;
  const draws = Array.from({ length: B }, () => ({ blur: options.rng.uniform() < p, sigma: options.rng.uniformRange(sigma[0], sigma[1]) }));
  return tf.tidy(() => {
    const out: tf.Tensor[] = [];
    const one = (x: tf.Tensor4D, s: number): tf.Tensor => {
      // Reflection needs the pad below the side length.
      const r = Math.max(0, Math.min(Math.ceil(3 * s), H - 1, W - 1));
      if (r === 0) return x;
      const k = gaussianKernel1d(s, r);
      const vert = tf.tensor4d(Array.from({ length: k.length }, (_, i) => Array(C).fill(k[i])).flat(), [k.length, 1, C, 1]);
      const horiz = tf.tensor4d(Array.from({ length: k.length }, (_, i) => Array(C).fill(k[i])).flat(), [1, k.length, C, 1]);
      const padded = tf.mirrorPad(x, [[0, 0], [r, r], [r, r], [0, 0]], 'reflect');
      return tf.depthwiseConv2d(tf.depthwiseConv2d(padded, vert, 1, 'valid'), horiz, 1, 'valid');
    };
    for (let i = 0; i < B; i++) {
      const x = tf.slice(images, [i, 0, 0, 0], [1, H, W, C]);
      out.push(draws[i]!.blur ? one(x, draws[i]!.sigma) : x);
    }
    return tf.concat(out, 0) as tf.Tensor4D;
  });
}
