export { matMul, linear, setExplicitTranspose } from './matmul.js';
export { ensureGradients } from './gradients.js';
export { gatherTokens, restoreTokens } from './permute.js';
