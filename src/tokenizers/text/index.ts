export { batchTokens, type TextTokenizer, type TokenBatch } from './types.js';
export { WordTokenizer, splitWords, type WordTokenizerConfig } from './word.js';
export { BpeTokenizer, bytesToUnicode, type BpeTokenizerConfig, type BpeClean } from './bpe.js';
