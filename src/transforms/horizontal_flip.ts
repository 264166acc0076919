import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../utils/random.js';
import { checkImages, checkProbability, checkRng, selectPerImage } from './common.js';

/**
 * Random horizontal flip (torchvision `RandomHorizontalFlip`): each image is
 * mirrored left-right with probability `p` (default 0.5), one draw per image.
 *
 * @param images `[B, H, W, C]` float32. @returns the same shape.
 */
export function randomHorizontalFlip(images: tf.Tensor4D, options: { p?: number; rng: Rng }): tf.Tensor4D {
  const fn = 'randomHorizontalFlip';
  checkImages(fn, images);
  checkRng(fn, options?.rng);
  const p = options.p ?? 0.5;
  checkProbability(fn, 'p', p);
  const take = Array.from({ length: images.shape[0] }, () => options.rng.uniform() < p);
  return tf.tidy(() => selectPerImage(take, images, tf.reverse(images, 2)));
}
