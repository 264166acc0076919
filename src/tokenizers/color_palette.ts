import * as tf from '@tensorflow/tfjs-core';
import { KMeansTokenizer } from './kmeans_tokenizer.js';

/** Configuration of a {@link ColorPaletteTokenizer}. */
export interface ColorPaletteTokenizerConfig {
  /** Expected image channels (default: taken from the images given to `fit`). */
  inChans?: number;
}

/**
 * iGPT's colour palette (Chen et al. 2020, "Generative Pretraining from
 * Pixels"): k-means over the pixels' colour vectors (C values each) of the
 * user's data, `k = 512` clusters by default as in the paper; every pixel
 * becomes the id of its nearest cluster. So `patchSize` is 1 and an image of
 * `H x W` pixels is a sequence of `H * W` tokens in raster order, the input
 * of iGPT's autoregressive or BERT-style (15% masked) objective. iGPT
 * clusters (R, G, B) values normalised to [-1, 1]; any range works here, as
 * long as fitting and tokenizing use the same one.
 *
 * @example
 * const palette = new ColorPaletteTokenizer();
 * palette.fit(imgs, { k: 16, seed: 0 });
 * const ids = palette.tokenize(imgs);          // int32 [B, H*W]
 * const back = palette.decodeImages(ids, H, W); // [B, H, W, C] quantised colours
 */
export class ColorPaletteTokenizer extends KMeansTokenizer {
  /** Builds an unfitted palette; call `fit` before `tokenize`. */
  constructor(config: ColorPaletteTokenizerConfig = {}) {
    super('ColorPaletteTokenizer', 1, 'none', config.inChans);
  }

  protected get kind(): string {
    return 'color_palette';
  }

  /** The palette colours of ids: `[...ids.shape, C]`. */
  decode(ids: tf.Tensor): tf.Tensor {
    return this.decodeVectors('decode', ids);
  }

  /**
   * Quantised images from pixel tokens.
   * @param ids int32 `[B, height * width]` (as `tokenize` returns).
   * @returns `[B, height, width, C]`.
   */
  decodeImages(ids: tf.Tensor2D, height: number, width: number): tf.Tensor4D {
    const fn = 'ColorPaletteTokenizer.decodeImages';
    if (!Number.isInteger(height) || height < 1) throw new Error(`${fn}: height must be a positive integer, got ${height}`);
    if (!Number.isInteger(width) || width < 1) throw new Error(`${fn}: width must be a positive integer, got ${width}`);
    if (!(ids instanceof tf.Tensor) || ids.rank !== 2 || ids.shape[1] !== height * width) {
      throw new Error(`${fn}: ids must be [B, height*width] = [B, ${height * width}], got shape [${ids instanceof tf.Tensor ? ids.shape : typeof ids}]`);
    }
    const colours = this.decodeVectors('decodeImages', ids);
    try {
      return tf.reshape(colours, [ids.shape[0], height, width, this.inChans]) as tf.Tensor4D;
    } finally {
      colours.dispose();
    }
  }
}
