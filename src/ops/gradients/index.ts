import { type GradConfig } from './common.js';
import { elementwiseGradients } from './elementwise.js';
import { batchMatMulGrad } from './matmul.js';
import { reduceGradients } from './reduce.js';
import { shapeGradients } from './shape.js';
import { zeroGradients } from './zero.js';

/**
 * Every gradient the library provides, one per kernel name. Internal (tests
 * walk it); users call `ensureGradients()`.
 */
export const gradientConfigs: readonly GradConfig[] = [
  ...elementwiseGradients,
  ...reduceGradients,
  ...shapeGradients,
  batchMatMulGrad,
  ...zeroGradients,
];
