/**
 * View augmentations as seeded tensor ops (random resized crop, flip, colour jitter, grayscale, blur, solarize) and the multi-view pipelines of DINO and MoCo v3.
 * @module transforms
 */
export { randomResizedCrop, randomCropBox, type RandomResizedCropOptions, type CropBox } from './random_resized_crop.js';
export { randomHorizontalFlip } from './horizontal_flip.js';
export { colorJitter, type ColorJitterOptions } from './color_jitter.js';
export { randomGrayscale } from './grayscale.js';
export { randomGaussianBlur, gaussianKernel1d, type GaussianBlurOptions } from './gaussian_blur.js';
export { randomSolarize } from './solarize.js';
export {
  augmentView,
  multiCrop,
  twoViews,
  IMAGENET_NORMALIZATION,
  type Normalization,
  type ViewOptions,
  type MultiCropOptions,
  type MultiCrop,
} from './multi_crop.js';
