/**
 * Maskers: MAE random masking, BEiT block-wise masking, SimMIM mask units and BERT text masking. Pure functions of a seed that return index or mask tensors.
 * @module masking
 */
export {
  type RandomSource,
  type MaskIndexArrays,
  type MaskIndexTensors,
  maskToIndexArrays,
  indexArraysToTensors,
} from './common.js';
export {
  RandomMasker,
  type RandomMaskerConfig,
  type MaskNoise,
  type RandomMaskSource,
  type RandomMaskArrays,
  type RandomMaskResult,
} from './random_masker.js';
export {
  BlockwiseMasker,
  type BlockwiseMaskerConfig,
  type BlockwiseMaskArrays,
  type BlockwiseMaskResult,
} from './blockwise_masker.js';
export {
  SimMIMMasker,
  type SimMIMMaskerConfig,
  type SimMIMMaskArrays,
  type SimMIMMaskResult,
} from './simmim_masker.js';
export {
  TextMasker,
  type TextMaskerConfig,
  type TextMaskArrays,
  type TextMaskResult,
} from './text_masker.js';
