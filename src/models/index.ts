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
export type { VitIntermediates, VitIntermediatesOptions } from './vit.js';
export { ProjectedViT, type ProjectedViTConfig, type ProjectedViTForwardOptions } from './projected_vit.js';
export {
  MoCoV3,
  mocoV3VitSmall,
  mocoV3VitBase,
  mocoV3InitWeights,
  type MoCoV3Config,
  type ResolvedMoCoV3Config,
  type MoCoV3ForwardOptions,
  type MoCoV3Output,
} from './moco_v3.js';
export { SimSiam, type SimSiamConfig, type SiameseForwardOptions, type SiameseOutput } from './simsiam.js';
export { BYOL, type BYOLConfig } from './byol.js';
export { TinyMIM, sequentialDistillation, type TinyMIMConfig, type TinyMIMForwardOptions, type TinyMIMOutput } from './tinymim.js';
