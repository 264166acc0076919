import type * as tf from '@tensorflow/tfjs-core';

/**
 * A visual tokenizer: turns images into one discrete token id per patch, the
 * targets of BEiT-style masked image modeling (Bao et al. 2022, "BEiT: BERT
 * Pre-Training of Image Transformers": predict the visual tokens of the masked
 * patches with a cross-entropy over `vocabSize` classes). Every tokenizer of
 * the library implements it, so a model trains against any of them.
 */
export interface VisualTokenizer {
  /** Number of distinct token ids; ids are in `[0, vocabSize)`. */
  readonly vocabSize: number;
  /** Side of the square patch one token covers, in pixels (1: one token per pixel, as iGPT). */
  readonly patchSize: number;
  /** Channels the images must have. */
  readonly inChans: number;
  /**
   * Token ids of a batch of images.
   * @param imgs `[B, H, W, C]` (NHWC), `C = inChans`, `H` and `W` multiples of `patchSize`.
   * @returns int32 `[B, L]`, `L = (H/p) * (W/p)`, patches in row-major grid order
   *   (token `n` is grid row `n // (W/p)`, column `n % (W/p)`).
   */
  tokenize(imgs: tf.Tensor4D): tf.Tensor2D;
  /** Frees the tokenizer's tensors; it cannot tokenize afterwards. */
  dispose(): void;
}

/**
 * Per-patch normalisation before a patch is compared with the codebook:
 * `'none'`, or `'meanStd'`: `(v - mean(v)) / sqrt(var(v) + 1e-6)` over the
 * patch's `p*p*C` values with the unbiased variance, exactly MAE's
 * `norm_pix_loss` target, so tokens describe a patch's texture rather than
 * its brightness.
 */
export type PatchNorm = 'none' | 'meanStd';
