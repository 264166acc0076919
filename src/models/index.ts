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
export {
  TextTransformer,
  checkTokenIds,
  openClipInitBlocks,
  type TextTransformerConfig,
  type ResolvedTextTransformerConfig,
  type TextForwardOptions,
  type TextPool,
} from './text_transformer.js';
export {
  ClipVisionTransformer,
  type ClipVisionConfig,
  type ResolvedClipVisionConfig,
  type ClipVisionForwardOptions,
} from './clip_vision.js';
export {
  CLIP,
  FLIP,
  clipVitB32,
  clipVitB16,
  clipVitB32QuickGelu,
  type CLIPConfig,
  type FLIPConfig,
  type ClipForwardOptions,
  type ClipOutput,
} from './clip.js';
export {
  zeroShotClassifier,
  zeroShotLogits,
  type PromptTemplate,
  type ZeroShotClassifierOptions,
  type ZeroShotLogitsOptions,
} from './zero_shot.js';
export {
  BEiT3,
  BEiT3Mdm,
  Beit3VisionEmbedding,
  resolveBeit3Config,
  beit3BasePatch16,
  beit3LargePatch16,
  beit3Tiny,
  BEIT3_NO_WEIGHT_DECAY,
  type BEiT3Config,
  type BEiT3MdmConfig,
  type ResolvedBEiT3Config,
  type Beit3Inputs,
  type Beit3ForwardOptions,
  type Beit3Features,
  type Beit3MdmInputs,
  type Beit3MdmOutput,
  type Beit3CheckedInputs,
} from './beit3.js';
