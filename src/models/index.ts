/**
 * Whole models assembled from the blocks (ViT, MAE, SimMIM, BEiT, ...), each with paper presets.
 * @module models
 */
export {
  VisionTransformer,
  vitTiny,
  vitSmall,
  vitBase,
  vitLarge,
  vitHuge,
  type VisionTransformerConfig,
  type VitBackboneConfig,
  type ResolvedVitConfig,
  type VitForwardOptions,
  type VitFeatures,
} from './vit.js';
export {
  MAE,
  maeVitBasePatch16,
  maeVitLargePatch16,
  maeVitHugePatch14,
  maeTiny,
  maeMicro,
  type MAEConfig,
  type ResolvedMAEConfig,
  type MaeTarget,
  type MaeMaskOptions,
  type MaeForwardOptions,
  type MaeEncoderOutput,
  type MaeOutput,
} from './mae.js';
export {
  BEiT,
  beitBasePatch16,
  beitLargePatch16,
  beitTiny,
  beitInitWeights,
  forwardWithMaskToken,
  readPatchMask,
  type BEiTConfig,
  type BeitBackboneConfig,
  type ResolvedBeitBackboneConfig,
  resolveBeitBackbone,
  type ResolvedBEiTConfig,
  type BeitTargets,
  type BeitOutput,
} from './beit.js';
export { SimMIM, simmimVitBasePatch16, simmimTiny, type SimMIMConfig, type ResolvedSimMIMConfig, type SimMIMOutput } from './simmim.js';
export { type PosEmbedResize } from './vit.js';
export {
  DINO,
  resolveDinoConfig,
  MultiCropWrapper,
  dinoVitSmallPatch16,
  dinoVitSmallPatch8,
  dinoVitBasePatch16,
  dinoVitBasePatch8,
  type DINOConfig,
  type ResolvedDINOConfig,
  type MultiCropWrapperConfig,
  type DinoForwardOptions,
  type DinoOutput,
  type DinoNetwork,
} from './dino.js';
