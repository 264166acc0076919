export { stopGradient } from './stop_gradient.js';
export { normalizedPixelTargets, type NormalizedPixelTargetsOptions } from './normalized_pixels.js';
export { maskedMseLoss, type MaskedMseLossOptions } from './masked_mse.js';
export { maskedL1Loss } from './masked_l1.js';
export { maskedCrossEntropy, type MaskedCrossEntropyOptions } from './masked_cross_entropy.js';
