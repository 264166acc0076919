import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../utils/random.js';
import { checkImages, checkProbability, checkRng, selectPerImage } from './common.js';

/**
 * Random solarisation (BYOL's augmentation, used by DINO on the second global
 * view with `p = 0.2`): with probability `p` each image's pixels at or above
 * `threshold` (default 0.5, PIL's 128 of 255) become `1 - x`.
 *
 * @param images `[B, H, W, C]` float32 in [0, 1]. @returns the same shape.
 */
export function randomSolarize(images: tf.Tensor4D, options: { p?: number; threshold?: number; rng: Rng }): tf.Tensor4D {
  const fn = 'randomSolarize';
  checkImages(fn, images);
  checkRng(fn, options?.rng);
  const p = options.p ?? 0.2;
  checkProbability(fn, 'p', p);
  const threshold = options.threshold ?? 0.5;
  if (!Number.isFinite(threshold)) throw new Error(`${fn}: threshold must be a finite number, got ${String(threshold)}`);
  const take = Array.from({ length: images.shape[0] }, () => options.rng.uniform() < p);
  return tf.tidy(() => selectPerImage(take, images, tf.where(tf.greaterEqual(images, threshold), tf.sub(1, images), images) as tf.Tensor4D));
}
