/**
 * Visual tokenizers: iGPT colour palette, k-means patch codebook, pretrained codebooks.
 * @module tokenizers
 */
export type { VisualTokenizer, PatchNorm } from './types.js';
export { kMeans, nearestCentroid, type KMeansOptions, type KMeansResult } from './kmeans.js';
export {
  PretrainedTokenizer,
  TOKENIZER_FORMAT,
  type PretrainedTokenizerConfig,
  type LoadTokenizerOptions,
} from './pretrained.js';
export {
  KMeansTokenizer,
  PatchCodebookTokenizer,
  type PatchCodebookTokenizerConfig,
  type KMeansFitOptions,
  type KMeansFitReport,
} from './kmeans_tokenizer.js';
export { ColorPaletteTokenizer, type ColorPaletteTokenizerConfig } from './color_palette.js';
export {
  batchTokens,
  WordTokenizer,
  splitWords,
  BpeTokenizer,
  bytesToUnicode,
  type TextTokenizer,
  type TokenBatch,
  type WordTokenizerConfig,
  type BpeTokenizerConfig,
  type BpeClean,
} from './text/index.js';
