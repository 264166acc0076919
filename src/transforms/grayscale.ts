import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../utils/random.js';
import { checkImages, checkProbability, checkRng, luma, selectPerImage } from './common.js';

/**
 * Random grayscale (torchvision `RandomGrayscale`, SimCLR/MoCo/DINO with
 * `p = 0.2`): each image is replaced, with probability `p`, by its ITU-R 601
 * luma repeated over the channels. Single-channel images are unchanged.
 *
 * @param images `[B, H, W, C]` float32. @returns the same shape.
 */
export function randomGrayscale(images: tf.Tensor4D, options: { p?: number; rng: Rng }): tf.Tensor4D {
  const fn = 'randomGrayscale';
  checkImages(fn, images);
  checkRng(fn, options?.rng);
  const p = options.p ?? 0.2;
  checkProbability(fn, 'p', p);
  const take = Array.from({ length: images.shape[0] }, () => options.rng.uniform() < p);
  const c = images.shape[3];
  return tf.tidy(() => (c === 1 ? tf.clone(images) : selectPerImage(take, images, tf.tile(luma(images), [1, 1, 1, c]) as tf.Tensor4D)));
}
