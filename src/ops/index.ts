/**
 * Tensor operations the blocks are built from: the backend-aware `matMul`, token gathers with gather-only gradients, and gradient registration.
 * @module ops
 */
export { matMul, linear, setExplicitTranspose, setBatchedMatMulPath, type BatchedPath } from './matmul.js';
export { ensureGradients } from './gradients.js';
export { shareWasmIdentity } from './wasm_identity.js';
export { gatherTokens, restoreTokens, type TokenIndexOptions } from './permute.js';
export {
  interpolationMatrix,
  resizeGrid,
  resamplePosTable,
  resamplePosTableData,
  type InterpolationMode,
  type InterpolationOptions,
  type ResizeOptions,
  type ResamplePosTableOptions,
} from './resize.js';
