/**
 * mimkit: masked-modeling building blocks for TensorFlow.js.
 * @packageDocumentation
 */
export * from './ops/index.js';
export * from './utils/index.js';
export * from './layers/index.js';
export * from './masking/index.js';
export * from './decoders/index.js';
export * from './heads/index.js';
export * from './tokenizers/index.js';
export * from './losses/index.js';
export * from './models/index.js';
export * from './train/index.js';
export * from './io/index.js';
export * from './analysis/index.js';
export * from './transforms/index.js';
export * from './heads/index.js';
