export { matMul, linear, setExplicitTranspose } from './matmul.js';
export { ensureGradients } from './gradients.js';
