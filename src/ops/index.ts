export { matMul, linear, setExplicitTranspose } from './matmul.js';
export { ensureGradients } from './gradients.js';
export { gatherTokens, restoreTokens, type TokenIndexOptions } from './permute.js';
