export { matMul, linear, setExplicitTranspose } from './matmul.js';
export { ensureGradients } from './gradients.js';
export { gatherTokens, restoreTokens } from './permute.js';
export {
  interpolationMatrix,
  resizeGrid,
  resamplePosTable,
  type InterpolationMode,
  type InterpolationOptions,
  type ResizeOptions,
  type ResamplePosTableOptions,
} from './resize.js';
