import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../utils/random.js';
import { colorJitter, type ColorJitterOptions } from './color_jitter.js';
import { checkImages, checkRng } from './common.js';
import { randomGaussianBlur } from './gaussian_blur.js';
import { randomGrayscale } from './grayscale.js';
import { randomHorizontalFlip } from './horizontal_flip.js';
import { randomResizedCrop } from './random_resized_crop.js';
import { randomSolarize } from './solarize.js';

/** Per-channel normalisation `(x - mean) / std` (ImageNet: mean `[0.485, 0.456, 0.406]`, std `[0.229, 0.224, 0.225]`). */
export type Normalization = { mean: readonly number[]; std: readonly number[] };

/** ImageNet's mean and std, what the published DINO, MoCo v3, MAE and BEiT checkpoints expect. */
export const IMAGENET_NORMALIZATION: Readonly<Normalization> = Object.freeze({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });

/** One view's pipeline ({@link augmentView}). */
export type ViewOptions = {
  /** Output side in pixels. */
  size: number;
  /** Crop area range. Default `[0.08, 1]`. */
  scale?: readonly [number, number];
  /** Colour jitter strengths (its `p` included); `null` skips it. Default: {@link colorJitter}'s (0.4, 0.4, 0.2, 0.1, p 0.8). */
  jitter?: Omit<ColorJitterOptions, 'rng'> | null;
  /** Grayscale probability. Default 0.2. */
  grayscaleP?: number;
  /** Blur probability. Default 0.5. */
  blurP?: number;
  /** Solarisation probability. Default 0. */
  solarizeP?: number;
  /** Normalisation applied last; `null` leaves values in [0, 1]. Default `null`. */
  normalize?: Normalization | null;
  /** The generator of every draw. */
  rng: Rng;
};

/**
 * One augmented view in the SimCLR/BYOL form that MoCo v3 and DINO use:
 * random resized crop, horizontal flip, colour jitter, grayscale, Gaussian
 * blur, solarisation, then normalisation.
 *
 * @param images `[B, H, W, C]` float32 in [0, 1]. @returns `[B, size, size, C]`.
 */
export function augmentView(images: tf.Tensor4D, options: ViewOptions): tf.Tensor4D {
  const fn = 'augmentView';
  checkImages(fn, images);
  checkRng(fn, options?.rng);
  const { rng } = options;
  const norm = options.normalize ?? null;
  const C = images.shape[3];
  if (norm !== null && (!Array.isArray(norm.mean) || !Array.isArray(norm.std) || norm.mean.length !== C || norm.std.length !== C || !norm.std.every((s) => s > 0))) {
    throw new Error(`${fn}: normalize must be { mean, std } with ${C} entries each (std > 0), got ${JSON.stringify(norm)}`);
  }
  return tf.tidy(() => {
    let x = randomResizedCrop(images, { size: options.size, scale: options.scale ?? [0.08, 1], rng });
    x = randomHorizontalFlip(x, { rng });
    if (options.jitter !== null) x = colorJitter(x, { ...(options.jitter ?? {}), rng });
    x = randomGrayscale(x, { p: options.grayscaleP ?? 0.2, rng });
    x = randomGaussianBlur(x, { p: options.blurP ?? 0.5, rng });
    if ((options.solarizeP ?? 0) > 0) x = randomSolarize(x, { p: options.solarizeP, rng });
    if (norm !== null) x = tf.div(tf.sub(x, tf.tensor1d([...norm.mean])), tf.tensor1d([...norm.std])) as tf.Tensor4D;
    return x;
  });
}

/** Options of {@link multiCrop}. */
export type MultiCropOptions = {
  /** Side of the two global crops. Default 224. */
  globalSize?: number;
  /** Side of the local crops. Default 96. */
  localSize?: number;
  /** Number of local crops. Default 8 (DINO's `local_crops_number`). */
  numLocal?: number;
  /** Area range of global crops. Default `[0.4, 1]` (DINO's `global_crops_scale`). */
  globalScale?: readonly [number, number];
  /** Area range of local crops. Default `[0.05, 0.4]` (DINO's `local_crops_scale`). */
  localScale?: readonly [number, number];
  /** Colour jitter strengths, `null` to skip. Default DINO's (0.4, 0.4, 0.2, 0.1, p 0.8). */
  jitter?: Omit<ColorJitterOptions, 'rng'> | null;
  /** Normalisation, `null` to leave [0, 1]. Default `null`. */
  normalize?: Normalization | null;
  /** The generator of every draw. */
  rng: Rng;
};

/** The views of {@link multiCrop}: two global crops, then the local ones. */
export type MultiCrop = { global: tf.Tensor4D[]; local: tf.Tensor4D[] };

/**
 * DINO's multi-crop augmentation (Caron et al. 2021, `DataAugmentationDINO`):
 * two global crops (blur with p 1.0; blur p 0.1 plus solarisation p 0.2) and
 * `numLocal` small local crops (blur p 0.5), each with flip, colour jitter
 * (p 0.8) and grayscale (p 0.2).
 *
 * @param images `[B, H, W, C]` float32 in [0, 1].
 */
export function multiCrop(images: tf.Tensor4D, options: MultiCropOptions): MultiCrop {
  const fn = 'multiCrop';
  checkImages(fn, images);
  checkRng(fn, options?.rng);
  const numLocal = options.numLocal ?? 8;
  if (!Number.isInteger(numLocal) || numLocal < 0 || numLocal > 64) throw new Error(`${fn}: numLocal must be an integer in [0, 64], got ${String(numLocal)}`);
  const common = { jitter: options.jitter, normalize: options.normalize, rng: options.rng };
  const g = { size: options.globalSize ?? 224, scale: options.globalScale ?? ([0.4, 1] as const), ...common };
  const made: tf.Tensor4D[] = [];
  try {
    made.push(augmentView(images, { ...g, blurP: 1 }));
    made.push(augmentView(images, { ...g, blurP: 0.1, solarizeP: 0.2 }));
    for (let i = 0; i < numLocal; i++) {
      made.push(augmentView(images, { size: options.localSize ?? 96, scale: options.localScale ?? [0.05, 0.4], blurP: 0.5, ...common }));
    }
  } catch (e) {
    tf.dispose(made);
    throw e;
  }
  return { global: made.slice(0, 2), local: made.slice(2) };
}

/**
 * BYOL's two asymmetric views, as MoCo v3 uses them (`augmentation1`: blur
 * p 1.0; `augmentation2`: blur p 0.1, solarisation p 0.2; both random resized
 * crop of area `[0.08, 1]`, flip, colour jitter p 0.8, grayscale p 0.2).
 *
 * @param images `[B, H, W, C]` float32 in [0, 1]. @returns `[view1, view2]`, each `[B, size, size, C]`.
 */
export function twoViews(
  images: tf.Tensor4D,
  options: { size: number; scale?: readonly [number, number]; jitter?: Omit<ColorJitterOptions, 'rng'> | null; normalize?: Normalization | null; rng: Rng },
): [tf.Tensor4D, tf.Tensor4D] {
  checkImages('twoViews', images);
  if (options === null || typeof options !== 'object') throw new Error(`twoViews: options must be an object with size and rng, got ${String(options)}`);
  checkRng('twoViews', options.rng);
  const v1 = augmentView(images, { ...options, blurP: 1 });
  try {
    return [v1, augmentView(images, { ...options, blurP: 0.1, solarizeP: 0.2 })];
  } catch (e) {
    v1.dispose();
    throw e;
  }
}
