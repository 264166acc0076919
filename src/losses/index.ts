/**
 * Losses: reconstruction, contrastive (InfoNCE, CLIP, MoCo v3), self-distillation (DINO, SimSiam, BYOL, Barlow Twins) and TinyMIM relation distillation.
 * @module losses
 */
export { stopGradient } from './stop_gradient.js';
export { normalizedPixelTargets, type NormalizedPixelTargetsOptions } from './normalized_pixels.js';
export { maskedMseLoss, type MaskedMseLossOptions } from './masked_mse.js';
export { maskedL1Loss } from './masked_l1.js';
export { maskedCrossEntropy, type MaskedCrossEntropyOptions } from './masked_cross_entropy.js';
export { infoNCELoss, type InfoNCELossOptions } from './info_nce.js';
export {
  clipLoss,
  clampLogitScale,
  CLIP_MAX_LOG_LOGIT_SCALE,
  CLIP_INIT_LOG_LOGIT_SCALE,
  type ClipLossOptions,
  type ClipLossOutput,
} from './clip.js';
export { mocoV3Loss, type MocoV3LossOptions, type MocoV3LossOutput } from './moco_v3.js';
export { simsiamLoss, type SimsiamLossOptions } from './simsiam.js';
export { byolLoss, type ByolLossOptions } from './byol.js';
export { DINOLoss, type DINOLossConfig } from './dino.js';
export {
  relations,
  relationsFromQkv,
  relationKL,
  relationDistillationLoss,
  type Relations,
  type RelationsOptions,
  type RelationDistillationOutput,
} from './relation.js';
export { barlowTwinsLoss, type BarlowTwinsLossOptions } from './barlow_twins.js';
export { CLIP_SANE_MAX_LOG_LOGIT_SCALE } from './clip.js';
