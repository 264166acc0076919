import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../utils/random.js';
import { checkImages, checkRange, checkRng } from './common.js';

/** Options of {@link randomResizedCrop}. */
export type RandomResizedCropOptions = {
  /** Output size, a number (square) or `[height, width]`. */
  size: number | readonly [number, number];
  /** Range of the crop's area as a fraction of the image's. Default `[0.08, 1]` (torchvision, Inception). */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio (width / height), drawn log-uniformly. Default `[3/4, 4/3]`. */
  ratio?: readonly [number, number];
  /** The generator of every draw. */
  rng: Rng;
};

/** A crop box in pixels: top row, left column, height, width. */
export type CropBox = { top: number; left: number; height: number; width: number };

/**
 * torchvision's `RandomResizedCrop.get_params`: up to 10 tries of an area in
 * `scale` of the image's and a log-uniform aspect ratio in `ratio`; the first
 * box that fits is taken at a uniform position, else a central crop with the
 * ratio clamped to `ratio`.
 */
export function randomCropBox(height: number, width: number, scale: readonly [number, number], ratio: readonly [number, number], rng: Rng): CropBox {
  const fn = 'randomCropBox';
  for (const [name, v] of [['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${fn}: ${name} must be a positive integer, got ${String(v)}`);
  }
  checkRange(fn, 'scale', scale, Number.MIN_VALUE);
  checkRange(fn, 'ratio', ratio, Number.MIN_VALUE);
  checkRng(fn, rng);
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniformRange(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniformRange(logRatio[0], logRatio[1]));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: rng.randint(0, height - h), left: rng.randint(0, width - w), height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < ratio[0]) {
    w = width;
    h = Math.round(w / ratio[0]);
  } else if (inRatio > ratio[1]) {
    h = height;
    w = Math.round(h * ratio[1]);
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/**
 * Random resized crop (Szegedy et al. 2015, "Going deeper with
 * convolutions"; torchvision `RandomResizedCrop`, the first view transform of
 * SimCLR, MoCo v3, DINO and MAE's fine-tuning): one box per image drawn as
 * {@link randomCropBox}, resized to `size` by bilinear sampling
 * (`tf.image.cropAndResize`: pixel centres of the box's first and last
 * rows/columns map to the output's, with no antialiasing, unlike
 * torchvision's PIL resize when shrinking).
 *
 * @param images `[B, H, W, C]` float32.
 * @returns `[B, size, size, C]`.
 */
export function randomResizedCrop(images: tf.Tensor4D, options: RandomResizedCropOptions): tf.Tensor4D {
  const fn = 'randomResizedCrop';
  checkImages(fn, images);
  checkRng(fn, options?.rng);
  const size = typeof options.size === 'number' ? [options.size, options.size] : options.size;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0 && s <= 16384)) {
    throw new Error(`${fn}: size must be a positive integer or [height, width] (at most 16384), got ${JSON.stringify(options.size)}`);
  }
  const scale = options.scale ?? [0.08, 1];
  const ratio = options.ratio ?? [3 / 4, 4 / 3];
  checkRange(fn, 'scale', scale, 0);
  if (scale[1] <= 0) throw new Error(`${fn}: scale must be [lo, hi] with hi > 0, got ${JSON.stringify(scale)}`);
  checkRange(fn, 'ratio', ratio, Number.MIN_VALUE);
  const [b, H, W] = images.shape;
  const boxes: number[] = [];
  for (let i = 0; i < b; i++) {
    const c = randomCropBox(H, W, scale, ratio, options.rng);
    // Normalised so that pixel row r sits at r / (H - 1).
    const ny = (r: number): number => (H > 1 ? r / (H - 1) : 0);
    const nx = (c2: number): number => (W > 1 ? c2 / (W - 1) : 0);
    boxes.push(ny(c.top), nx(c.left), ny(c.top + c.height - 1), nx(c.left + c.width - 1));
  }
  return tf.tidy(() => {
    const ind = tf.range(0, b, 1, 'int32') as tf.Tensor1D;
    return tf.image.cropAndResize(images, tf.tensor2d(boxes, [b, 4]), ind, [size[0]!, size[1]!], 'bilinear');
  });
}
